"""``cxdesktop --self-test``: load the model, count sample images, print the counts (no window).

Exit status 0 only when the first image's count is finite and positive and, when the shipped
default model counts images with a ``<stem>.dots.csv`` annotation (the bundled samples have
one), their summed count lies within ``ANNOTATION_TOLERANCE`` of the summed annotated count,
each image counted as the app counts an image with no cell size given (the model's size
estimate, ``countxplain.scale_policy``); another model (``--model``,
``$COUNTXPLAIN_MODEL``) need only give a finite positive count. Used to check an installed or
frozen build end to end; it also imports the GUI modules (without showing anything) so a
bundle missing Qt or pyqtgraph pieces fails here.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

ANNOTATION_TOLERANCE = 0.25  # the shipped model's total count must lie within 25 % of the annotated total


def run_self_test(images: list[str] | None = None, model_path: str | None = None, device: str = "auto") -> int:
    from countxplain.errors import CountXplainError
    from countxplain.resources import (
        DEFAULT_MODEL_NAME,
        default_model_path,
        resources_dir,
        sample_images,
        sample_images_dir,
    )

    out = sys.stdout
    candidates = [Path(p) for p in images or []] or sample_images()
    if not candidates:
        print(f"self-test FAILED: no sample images in {sample_images_dir()}", file=out)
        return 1
    model_path = Path(model_path) if model_path else default_model_path()
    try:
        import cxdesktop.main_window  # noqa: F401  (the GUI modules are importable)
        from countxplain.images import read_image
        from countxplain.inference import Counter
        from countxplain.modelfile import load_model

        start = time.perf_counter()
        bundle = load_model(model_path)
        counter = Counter(bundle, device=device)
        shipped = model_path.resolve() == (resources_dir() / "models" / DEFAULT_MODEL_NAME).resolve()
        checked = []  # (name, count result, annotated count) of the first image and every annotated one
        for index, path in enumerate(candidates):
            dots = annotated_dots(path) if shipped else None
            if index > 0 and dots is None:
                continue
            counted = counter.count(read_image(path).pixels, estimate_cell_size=True)  # as the app counts
            checked.append((path.name, counted, None if dots is None else len(dots)))
    except CountXplainError as error:
        print(f"self-test FAILED: {error}", file=out)
        return 1
    except ImportError as error:
        print(f"self-test FAILED: a module is missing ({error})", file=out)
        return 1
    from countxplain.scale_policy import cell_size_note

    for name, counted, expected in checked:
        annotated = "" if expected is None else f", annotated {expected}"
        print(f"self-test: {name}: {counted.count:.2f} cells, {cell_size_note(counted)}{annotated}", file=out)
    result = checked[0][1]
    print(f"self-test: model '{bundle.name}', device {result.device}, {time.perf_counter() - start:.1f} s in all",
          file=out)
    if not (math.isfinite(result.count) and result.count > 0):
        print("self-test FAILED: the count is not a finite positive number", file=out)
        return 1
    annotated = [(counted.count, expected) for _, counted, expected in checked if expected]
    if annotated:
        total, expected = sum(c for c, _ in annotated), sum(e for _, e in annotated)
        print(f"self-test: {total:.1f} cells counted, {expected} annotated, tolerance {ANNOTATION_TOLERANCE:.0%}",
              file=out)
        if abs(total - expected) > ANNOTATION_TOLERANCE * expected:
            print("self-test FAILED: the count is too far from the annotated count", file=out)
            return 1
    print("self-test OK", file=out)
    return 0


def annotated_dots(image: Path):
    """The (N, 2) dots of the image's ``<stem>.dots.csv``, or None without a readable one."""
    from countxplain.annotations import read_dots
    from countxplain.datasets import sidecar_path
    from countxplain.errors import CountXplainError

    sidecar = sidecar_path(image)
    try:
        return read_dots(sidecar) if sidecar.exists() else None
    except CountXplainError:
        return None
