"""What to do when no cell size is given: count as it is, at the estimated size, or at the
estimate only when it is far from the model's training size.

For every validation and test image of the default model's splits (seed 0) this counts the
image as it is (scale 1) and at the model's estimated cell diameter, and records the estimate.
A gated policy uses the estimate only when it differs from the training diameter by more than
a factor g; g is chosen on the validation images (all sets pooled, each set weighted equally),
never on test images. Writes ``benchmarks/results/cell_size_policy.json``; ``write_results.py``
puts the table into ``benchmarks/RESULTS.md``.

Usage: python benchmarks/cell_size_policy.py [MODEL] [--data ../shared/data] [--gates 1.25 1.5 2 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from countxplain.annotations import read_dots
from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import load_model
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS, load_protocol_data
from countxplain.resources import default_model_path
from countxplain.scale_policy import diameter_to_use

OUT = Path(__file__).resolve().parent / "results" / "cell_size_policy.json"


def measure(counter: Counter, samples) -> list[dict]:
    rows = []
    for sample in samples:
        pixels = read_image(sample.image_path).pixels
        estimate = counter.estimate_cell_diameter(pixels)
        rows.append({"image": sample.image_path.name, "true": len(read_dots(sample.dots_path)),
                     "as_is": counter.count(pixels).count, "estimate_px": estimate,
                     "at_estimate": counter.count(pixels, cell_diameter_px=estimate).count})
    return rows


def policy_counts(rows: list[dict], native: float, gate: float | None) -> np.ndarray:
    """Counts under a policy: the estimate where it is off the training size by more than ``gate``
    (0: always the estimate; None: never, the image as it is)."""
    counts = []
    for r in rows:
        use_estimate = gate is not None and diameter_to_use(r["estimate_px"], native, gate) is not None
        counts.append(r["at_estimate"] if use_estimate else r["as_is"])
    return np.array(counts)


def mae(rows: list[dict], native: float, gate: float | None) -> float:
    truth = np.array([r["true"] for r in rows], dtype=float)
    return float(np.abs(policy_counts(rows, native, gate) - truth).mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--gates", nargs="+", type=float, default=[1.25, 1.5, 2.0, 3.0])
    args = parser.parse_args(argv)
    path = args.model or default_model_path()
    model = load_model(path)
    counter = Counter(model, device="cpu", precision="fp32")
    native = float(model.cell_diameter_px)
    start = time.perf_counter()
    measured = {}
    for name in DEFAULT_MODEL_PROTOCOLS:
        protocol, dataset = load_protocol_data(args.data, name)
        _, val, test = protocol.split(dataset, seed=0)
        measured[protocol.dataset] = {"validation": measure(counter, val), "test": measure(counter, test)}
        print(f"{protocol.dataset}: {len(val)} validation, {len(test)} test images "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    policies = {"as it is": None, "always the estimate": 0.0}
    policies.update({f"estimate when off by more than x{g:g}": g for g in args.gates})
    table = {}
    for label, gate in policies.items():
        table[label] = {split: {name: mae(parts[split], native, gate) for name, parts in measured.items()}
                        for split in ("validation", "test")}
        table[label]["validation mean"] = float(np.mean(list(table[label]["validation"].values())))
    chosen = min(table, key=lambda label: table[label]["validation mean"])
    report = {"model": str(path), "model_created": model.provenance.get("created"), "native_diameter_px": native,
              "policies": {label: {"gate": gate} | table[label] for label, gate in policies.items()},
              "chosen_on_validation": chosen, "per_image": measured,
              "seconds": round(time.perf_counter() - start, 1)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))
    for label in policies:
        print(f"{label:40s} val {table[label]['validation mean']:7.2f}  test "
              + "  ".join(f"{n} {v:7.2f}" for n, v in table[label]["test"].items()))
    print(f"chosen on validation: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
