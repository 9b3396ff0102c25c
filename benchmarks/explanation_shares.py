"""Who carries a count: the cell prototypes' share of it, and where the leading prototype's gallery comes from.

For each default set, the first ``--per-set`` test images of split seed 0 are counted with no size
given (as a user's images are) and each prototype's contribution to the count is taken from
``explain.contributions``. Per image:

* the cell share: the cell prototypes' contributions over the count (1 when background
  prototypes and any constant carry nothing);
* the background prototypes' and the constant's parts of the count, and whether any background
  prototype adds (weight > 0) or any cell prototype subtracts (weight < 0);
* the leading cell prototype (the largest contribution) and the share of its gallery patches
  that come from the image's own data set (the gallery records each patch's source file).

Writes ``benchmarks/results/explanation_shares.json`` (a row per model label).

Usage: python benchmarks/explanation_shares.py MODEL --label TEXT [--per-set 30] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from countxplain.explain import contributions
from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import load_model
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS, load_protocol_data

OUT = Path(__file__).resolve().parent / "results" / "explanation_shares.json"


def source_sets(data: Path) -> dict[str, str]:
    """Image file name → the default set it belongs to."""
    sets = {}
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        for path in folder.rglob("*"):
            if path.is_file():
                sets.setdefault(path.name, folder.name)
    return sets


def gallery_set_shares(bundle, sets: dict[str, str], own: str) -> np.ndarray:
    """Per prototype: the share of its gallery patches whose source image is in set ``own``."""
    shares = []
    for sources in bundle.gallery.sources:
        names = [source.rsplit("@", 1)[0] for source in sources]
        shares.append(np.mean([sets.get(Path(name).name) == own for name in names]) if names else 0.0)
    return np.array(shares)


def set_shares(counter: Counter, data: Path, protocol_name: str, per_set: int, sets: dict[str, str]) -> dict:
    protocol, dataset = load_protocol_data(data, protocol_name)
    _, _, test = protocol.split(dataset, seed=0)
    gallery_own = gallery_set_shares(counter.bundle, sets, protocol.dataset)
    rows = []
    for sample in test[:per_set]:
        result = counter.count(read_image(sample.image_path).pixels, with_similarity=True)
        parts = contributions(counter.bundle, result)
        count = parts.total
        cells = float(parts.values[parts.is_cell].sum())
        leading = int(np.argmax(np.where(parts.is_cell, parts.values, -np.inf)))
        rows.append({"count": count, "cell_share": cells / count if count > 0 else float("nan"),
                     "background_part": float(parts.values[~parts.is_cell].sum()), "constant_part": parts.bias_term,
                     "leading_prototype": leading, "leading_gallery_own_share": float(gallery_own[leading])})
    shares = np.array([r["cell_share"] for r in rows])
    own = np.array([r["leading_gallery_own_share"] for r in rows])
    weights = parts.weights
    return {
        "n_images": len(rows),
        "median_cell_share": float(np.nanmedian(shares)),
        "median_abs_non_cell_share": float(np.nanmedian(np.abs(1 - shares))),
        "background_adds": bool((weights[~parts.is_cell] > 0).any()),
        "cell_subtracts": bool((weights[parts.is_cell] < 0).any()),
        "images_leading_gallery_all_own": float(np.mean(own == 1.0)),
        "images_leading_gallery_majority_own": float(np.mean(own > 0.5)),
        "leading_prototypes": {str(k): int(v) for k, v in zip(*np.unique([r["leading_prototype"] for r in rows],
                                                                        return_counts=True))},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--per-set", type=int, default=30)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    bundle = load_model(args.model)
    if bundle.gallery is None:
        raise SystemExit(f"{args.model}: the model has no gallery")
    counter = Counter(bundle, device="cpu")
    sets = source_sets(args.data)
    row = {"model": str(args.model), "sets": {}}
    for name in DEFAULT_MODEL_PROTOCOLS:
        row["sets"][name] = set_shares(counter, args.data, name, args.per_set, sets)
        print(name, json.dumps(row["sets"][name]), flush=True)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[args.label] = row
    tmp = OUT.with_name(OUT.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
