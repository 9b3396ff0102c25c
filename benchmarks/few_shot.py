"""Few-shot counting: how much a model learns from a user's few annotated images of a set it never saw.

For each left-out set: a base model is trained with the ``default`` preset on the training shares of
the other default sets (their validation shares for validation), then fine-tuned with the
``fine-tune`` preset on N annotated images of the left-out set (``protocols.few_shot_split``: drawn
by seed from that set's training share; the fine-tune sets its own validation image aside from
them, as the app does). The test MAE is measured on that split's test images, counted as they are.
Beside it, the classical peer (``benchmarks/peers/spot_detector.py``) is tuned on the same N images.
Everything trains through ``countxplain.training.train_model``.

Results accumulate in ``benchmarks/results/few_shot.json`` (finished runs are skipped on a rerun;
base models and their checkpoints are kept in ``--models``, so an interrupted base resumes; a base
committed in ``benchmarks/models/`` is used when ``--models`` has none) and the table is written to
``benchmarks/results/few_shot.md``.

Usage: python benchmarks/few_shot.py [--left-out mbm adi] [--shots 5 15] [--seeds 0 1 2]
       [--models build/few_shot] [--data ../shared/data] [--no-peer] [--bases-only]
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

from peers import spot_detector  # noqa: E402

from countxplain.annotations import read_dots  # noqa: E402
from countxplain.images import read_image  # noqa: E402
from countxplain.inference import Counter  # noqa: E402
from countxplain.modelfile import load_model, save_model  # noqa: E402
from countxplain.pretrained import load_csrnet_state  # noqa: E402
from countxplain.protocols import few_shot_split, load_protocol_data  # noqa: E402
from countxplain.training import train_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "few_shot.json"
TABLE = RESULTS.with_suffix(".md")
PEER_RESULTS = RESULTS.with_name("spot_detector.json")
COMMITTED_BASES = Path(__file__).resolve().parent / "models"
ZERO_SHOT: dict[tuple[str, int], float] = {}  # (left-out set, seed): the base model's test MAE
SET_PROTOCOL = {"vgg": "vgg32", "mbm": "mbm", "adi": "adi", "dsb2018": "dsb2018"}


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"bases": {}, "runs": []}


def save_results(results: dict) -> None:
    """Write ``results`` merged with what is on disk (another run of this harness may have added rows)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    def key(run):
        return run["left_out"], run["n_shots"], run["seed"]
    on_disk = load_results()
    ours = {key(run) for run in results["runs"]}
    results["runs"] = [run for run in on_disk["runs"] if key(run) not in ours] + results["runs"]
    results["bases"] = {**on_disk.get("bases", {}), **results.get("bases", {})}
    tmp = RESULTS.with_name(RESULTS.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, RESULTS)
    TABLE.write_text(markdown_table(results))


def read_annotated(samples) -> list[tuple[np.ndarray, int]]:
    """Each sample's pixels and number of dots, read once."""
    return [(read_image(s.image_path).pixels, len(read_dots(s.dots_path))) for s in samples]


def test_mae(bundle, annotated: list[tuple[np.ndarray, int]]) -> tuple[float, list[float]]:
    counter = Counter(bundle, device="cpu", precision="auto")
    counts, errors = [], []
    for pixels, n_dots in annotated:
        count = counter.count(pixels).count
        counts.append(round(count, 2))
        errors.append(abs(count - n_dots))
    return float(np.mean(errors)), counts


def base_model(left_out: str, data: Path, models: Path, results: dict, log) -> object:
    path = models / f"base-without-{left_out}.cxm"
    if path.exists():
        return load_model(path)
    if (COMMITTED_BASES / path.name).exists():  # a base kept in the repository (fp16) saves a session the training
        log(f"base without {left_out}: {COMMITTED_BASES / path.name}")
        return load_model(COMMITTED_BASES / path.name)
    samples, val, groups, val_groups = [], [], [], []
    for name, protocol in SET_PROTOCOL.items():
        if name == left_out:
            continue
        spec, dataset = load_protocol_data(data, protocol)
        train_s, val_s, _ = spec.split(dataset, 0)
        samples += train_s
        val += val_s
        groups += [name] * len(train_s)
        val_groups += [name] * len(val_s)
    log(f"base without {left_out}: {len(samples)} training, {len(val)} validation images")
    models.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    def report(p):
        if p.stage != "cache" or p.epoch % 500 == 0:
            log(f"  {p.stage} {p.epoch}/{p.epochs} {p.message} val MAE {p.val_mae}")

    run = train_model(samples, "default", val_samples=val, groups=groups, val_groups=val_groups,
                      csrnet_state=load_csrnet_state(), progress=report,
                      checkpoint=models / f"base-without-{left_out}.ckpt",
                      gallery_k=0)
    seconds = time.perf_counter() - start
    run.bundle.provenance["name"] = f"few-shot base without {left_out}"
    save_model(run.bundle, path)
    results["bases"][left_out] = {"seconds": round(seconds, 1), "val_mae": run.bundle.provenance["metrics"]["val_mae"],
                                  "n_train": len(samples), "n_val": len(val)}
    save_results(results)
    return load_model(path)


def run_one(left_out: str, n: int, seed: int, base, data: Path, with_peer: bool, log) -> dict:
    protocol = SET_PROTOCOL[left_out]
    _, dataset = load_protocol_data(data, protocol)
    shots, _, test = few_shot_split(dataset, protocol, n, seed)
    start = time.perf_counter()
    run = train_model(shots, "fine-tune", {"seed": seed}, init=base, groups=[left_out] * n, gallery_k=0)
    seconds = time.perf_counter() - start
    annotated_test = read_annotated(test)
    mae, counts = test_mae(run.bundle, annotated_test)
    if (left_out, seed) not in ZERO_SHOT:  # the base's count of a split's test images is the same for every N
        ZERO_SHOT[left_out, seed] = test_mae(base, annotated_test)[0]
    zero_shot = ZERO_SHOT[left_out, seed]
    row = {"left_out": left_out, "n_shots": n, "seed": seed, "test_mae": mae, "zero_shot_mae": zero_shot,
           "fine_tune_seconds": round(seconds, 1), "n_test": len(test), "test_counts": counts,
           "mean_dots": float(np.mean([n_dots for _, n_dots in annotated_test])),
           "shots": [s.image_path.name for s in shots]}
    recorded = recorded_peer(left_out, n, seed, row["shots"])
    if recorded is not None:
        row["peer_mae"] = recorded
    elif with_peer:
        annotated_shots = read_annotated(shots)
        params = spot_detector.tune([pixels for pixels, _ in annotated_shots], [n for _, n in annotated_shots])
        row["peer_mae"] = float(np.mean([abs(spot_detector.count(pixels, params) - n_dots)
                                         for pixels, n_dots in annotated_test]))
    log(f"{left_out} N={n} seed {seed}: MAE {mae:.2f} (zero-shot {zero_shot:.2f}, peer {row.get('peer_mae')}) "
        f"in {seconds:.0f} s")
    return row


def recorded_peer(left_out: str, n: int, seed: int, shots: list[str]) -> float | None:
    """The peer's test MAE from ``peers/spot_detector.py``'s own results, when it was tuned on these very shots."""
    if not PEER_RESULTS.exists():
        return None
    for row in json.loads(PEER_RESULTS.read_text())["results"]:
        if (row["set"], row["n_shots"], row["seed"]) == (left_out, n, seed) and row["shots"] == shots:
            return float(row["test_mae"])
    return None


def _mean_sd(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.2f}"


def markdown_table(results: dict) -> str:
    lines = ["| left-out set | N | ours: test MAE | spot detector | ours / peer | zero-shot | fine-tune time |",
             "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["left_out"], r["n_shots"]) for r in results["runs"]})
    for left_out, n in keys:
        rows = [r for r in results["runs"] if r["left_out"] == left_out and r["n_shots"] == n]
        ours = [r["test_mae"] for r in rows]
        peer = [r.get("peer_mae") for r in rows]
        known = [p for p in peer if p is not None]
        ratio = f"{np.mean(ours) / np.mean(known):.2f}" if known else "–"
        lines.append(f"| {left_out} | {n} | {_mean_sd(ours)} | {_mean_sd(peer)} | {ratio} | "
                     f"{_mean_sd([r['zero_shot_mae'] for r in rows])} | "
                     f"{np.mean([r['fine_tune_seconds'] for r in rows]):.0f} s |")
    bases = results.get("bases", {})
    if bases:
        lines.append("")
        lines.append("Base models (`default` preset, trained without the left-out set): " + "; ".join(
            f"without {k}: {v['n_train']} images, {v['seconds'] / 60:.0f} min, validation MAE {v['val_mae']:.2f}"
            for k, v in sorted(bases.items())))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--left-out", nargs="+", default=["mbm", "adi"], choices=sorted(SET_PROTOCOL))
    parser.add_argument("--shots", nargs="+", type=int, default=[5, 15])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--models", type=Path, default=Path("build/few_shot"))
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--bases-only", action="store_true", help="train (or resume) the base models and stop")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: every core)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    begin = time.perf_counter()
    def log(text):
        print(f"[{time.perf_counter() - begin:7.0f}s] {text}", flush=True)
    results = load_results()
    for left_out in args.left_out:
        base = base_model(left_out, args.data, args.models, results, log)
        if args.bases_only:
            continue
        for n in args.shots:
            for seed in args.seeds:
                if any(r["left_out"] == left_out and r["n_shots"] == n and r["seed"] == seed for r in results["runs"]):
                    continue
                results["runs"].append(run_one(left_out, n, seed, base, args.data, not args.no_peer, log))
                save_results(results)
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
