"""How much a model's test MAE depends on the stated cell diameter being exact.

For each model and each factor f, every test image is counted with the cell diameter
stated as f × its true value (the set's training spacing for vgg, mbm and adi; each
image's own dot spacing for dsb2018), i.e. as if the user's estimate were off by f.
Adds to ``benchmarks/results/scale_robustness.json`` (models measured earlier with the same
factors stay); ``write_results.py`` puts the table into ``benchmarks/RESULTS.md``.

Usage: python benchmarks/scale_robustness.py MODEL [MODEL ...] [--factors 0.8 0.9 1 1.1 1.25] [--per-set 60]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from countxplain.annotations import read_dots
from countxplain.density import typical_cell_spacing
from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import load_model
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS, load_protocol_data

OUT = Path(__file__).resolve().parent / "results" / "scale_robustness.json"


def test_images(data: Path, per_set: int) -> dict[str, list[tuple]]:
    """Per set: (pixels, true count, true cell diameter) of the first ``per_set`` test images of split seed 0."""
    sets = {}
    for name in DEFAULT_MODEL_PROTOCOLS:
        protocol, dataset = load_protocol_data(data, name)
        train, _, test = protocol.split(dataset, seed=0)
        set_spacing = None
        if protocol.dataset != "dsb2018":
            set_spacing = float(np.nanmedian([typical_cell_spacing(read_dots(s.dots_path)) for s in train]))
        rows = []
        for sample in test[:per_set]:
            dots = read_dots(sample.dots_path)
            diameter = set_spacing or typical_cell_spacing(dots)
            if np.isfinite(diameter):
                rows.append((read_image(sample.image_path).pixels, len(dots), diameter))
        sets[protocol.dataset] = rows
    return sets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--factors", nargs="+", type=float, default=[0.8, 0.9, 1.0, 1.1, 1.25])
    parser.add_argument("--per-set", type=int, default=60)
    args = parser.parse_args(argv)
    sets = test_images(args.data, args.per_set)
    report = {"factors": args.factors, "per_set": args.per_set, "models": {}}
    if OUT.exists():  # keep earlier models measured the same way
        earlier = json.loads(OUT.read_text())
        if earlier.get("factors") == args.factors and earlier.get("per_set") == args.per_set:
            report["models"] = earlier["models"]
    for path in args.models:
        model = load_model(path)
        counter = Counter(model, device="cpu", precision="fp32")
        table = {}
        for name, rows in sets.items():
            table[name] = {}
            for factor in args.factors:
                errors = [abs(counter.count(pixels, cell_diameter_px=factor * diameter).count - truth)
                          for pixels, truth, diameter in rows]
                table[name][str(factor)] = float(np.mean(errors))
            print(path, name, {f: round(v, 2) for f, v in table[name].items()}, flush=True)
        report["models"][f"{path} ({model.provenance.get('created')})"] = {
            "name": model.name, "created": model.provenance.get("created"),
            "n_images": {n: len(r) for n, r in sets.items()}, "mae": table}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
