"""Choosing the ``fine-tune`` recipe without the test images: a variant of the preset is fine-tuned
from a few-shot base (as ``few_shot.py`` does) and judged on the left-out set's remaining training
images (``protocols.few_shot_split``'s rest), never on its test images.

Rows accumulate in ``benchmarks/results/few_shot_choice.json`` (a variant, set, N and seed already
there is skipped). ``--set name=value`` overrides options of the ``fine-tune`` preset.

Usage: python benchmarks/few_shot_choice.py --left-out mbm --shots 5 --seeds 0 1
       [--set train_vgg_layers=1 ...] [--threads 1] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from few_shot import SET_PROTOCOL, base_model, load_results, read_annotated, test_mae  # noqa: E402

from countxplain.cli import training_option  # noqa: E402
from countxplain.protocols import few_shot_split, load_protocol_data  # noqa: E402
from countxplain.training import train_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "few_shot_choice.json"


def choice_row(left_out: str, n: int, seed: int, overrides: dict, data: Path, models: Path, log) -> dict:
    """One fine-tune of the base without ``left_out`` on ``n`` shots, with its MAE on the rest images."""
    base = base_model(left_out, data, models, load_results(), log)
    _, dataset = load_protocol_data(data, SET_PROTOCOL[left_out])
    shots, rest, _ = few_shot_split(dataset, SET_PROTOCOL[left_out], n, seed)
    if not rest:
        raise SystemExit(f"{left_out} has no training images left beside {n} shots to judge on")
    start = time.perf_counter()
    run = train_model(shots, "fine-tune", {"seed": seed, **overrides}, init=base, groups=[left_out] * n,
                      gallery_k=0)
    seconds = time.perf_counter() - start
    mae, _ = test_mae(run.bundle, read_annotated(rest))
    row = {"left_out": left_out, "n_shots": n, "seed": seed, "overrides": overrides, "rest_mae": round(mae, 3),
           "n_rest": len(rest), "fine_tune_seconds": round(seconds, 1), "threads": torch.get_num_threads()}
    log(f"{left_out} N={n} seed {seed} {overrides}: rest MAE {mae:.2f} on {len(rest)} images in {seconds:.0f} s")
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--left-out", nargs="+", default=["mbm", "adi"], choices=sorted(SET_PROTOCOL))
    parser.add_argument("--shots", nargs="+", type=int, default=[5])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--set", action="append", type=training_option, default=[], metavar="NAME=VALUE")
    parser.add_argument("--models", type=Path, default=Path("build/few_shot"))
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = dict(args.set)
    begin = time.perf_counter()

    def log(text):
        print(f"[{time.perf_counter() - begin:7.0f}s] {text}", flush=True)

    for left_out in args.left_out:
        for n in args.shots:
            for seed in args.seeds:
                rows = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else []
                if any((r["left_out"], r["n_shots"], r["seed"], r["overrides"]) == (left_out, n, seed, overrides)
                       for r in rows):
                    continue
                row = choice_row(left_out, n, seed, overrides, args.data, args.models, log)
                rows = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else []  # another run may have added
                rows.append(row)
                tmp = RESULTS.with_name(RESULTS.name + f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"runs": rows}, indent=1))
                os.replace(tmp, RESULTS)
    summary: dict[str, list[float]] = {}
    for row in json.loads(RESULTS.read_text())["runs"]:
        key = f"{row['left_out']} N={row['n_shots']} {json.dumps(row['overrides'], sort_keys=True)}"
        summary.setdefault(key, []).append(row["rest_mae"])
    for key, values in sorted(summary.items()):
        print(f"{key}: {np.mean(values):.2f} over {len(values)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
