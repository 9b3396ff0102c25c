"""Speed and memory of CountXplain Desktop, measured in one run on this machine.

    python benchmarks/perf.py                 # everything (about 25 minutes on 2 CPU cores)
    python benchmarks/perf.py --quick         # tiny sizes, to check the script itself (a minute or two)
    python benchmarks/perf.py --only inference training --model FILE
    python benchmarks/perf.py --report-only   # rewrite PERF.md from results/perf.json

Writes ``benchmarks/results/perf.json`` (every number) and ``benchmarks/PERF.md`` (the
report, with each target met or missed). Sections:

* ``matmul``: the machine's fp32 (and bf16) ``torch.mm`` FLOP/s on large square matrices,
  the yardstick for the network's efficiency (measured again at the end: drift shows).
* ``inference``: latency and throughput at 256², 600², 1024² and 2048² for the reference
  approach (eager fp32, default contiguous layout, autograd on) and ours
  (``countxplain.inference.Counter``, fp32 and bf16), with FLOPs per image counted
  analytically from the layer shapes (cross-checked with ``FlopCounterMode``) and the
  achieved FLOP/s; at 1024² also every candidate execution path, one by one.
* ``accuracy``: bf16 against fp32 counts of real vgg and mbm images.
* ``training``: stage-2 time per epoch, head on cached features (``countxplain.training``)
  against recomputing the frozen extractor for every batch.
* ``app``: ``benchmarks/app_start.py`` in fresh processes: launch to visible window and to
  the first count of a 256² image.
* ``memory``: peak RSS of a process counting an 8192² PNG (tiled), and RSS while counting
  a folder of 1,000 small PNGs, each in its own subprocess.

Every section records which other processes were using the CPU while it ran: timings
taken beside another busy process are not this machine's speed, and the report says so.
No number here is a test threshold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import torch

if str(Path(__file__).resolve().parent) not in sys.path:  # ``perfkit`` sits beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from perfkit.accuracy import section_accuracy
from perfkit.app import section_app
from perfkit.config import REPORT, RESULTS, SECTIONS, SIZES
from perfkit.fixtures import benchmark_model
from perfkit.flops import apply_yardstick, section_matmul
from perfkit.inference import section_inference
from perfkit.machine import competitors_since, machine_info, now, process_ticks, wait_quiet
from perfkit.memory import section_memory, worker
from perfkit.report import write_report
from perfkit.training import section_training

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.* are deprecated (still measured)
warnings.filterwarnings("ignore", category=UserWarning, module="torch")
warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        return worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script, not the machine")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--model", help="model file (default: the shipped default model, else random weights)")
    parser.add_argument("--accuracy-model",
                        help="trained model for the bf16 accuracy check (default: --model if trained)")
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--variant-size", type=int, default=1024)
    parser.add_argument("--no-variants", action="store_true")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--accuracy-images", type=int, default=10, help="per set (vgg, mbm)")
    parser.add_argument("--train-images", type=int, default=16)
    parser.add_argument("--train-epochs", type=int, default=6)
    parser.add_argument("--reference-epochs", type=int, default=1)
    parser.add_argument("--app-runs", type=int, default=3)
    parser.add_argument("--big-size", type=int, default=8192)
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each section wait up to this long for other processes to leave the CPU")
    parser.add_argument("--report-only", action="store_true", help="rewrite PERF.md from results/perf.json")
    parser.add_argument("--merge", action="store_true",
                        help="measure only the --only sections and replace them in the existing results JSON")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default benchmarks/results/perf.json)")
    parser.add_argument("--report", type=Path, default=REPORT, help="report (default benchmarks/PERF.md)")
    args = parser.parse_args(argv)
    if args.report_only:
        write_report(json.loads(args.out.read_text()), args.report)
        print(f"wrote {args.report}")
        return 0

    device = torch.device("cpu")
    results: dict = {"started": now(), "argv": argv, "machine": machine_info(), "states": []}
    if args.merge and args.out.exists():
        previous = json.loads(args.out.read_text())
        merged = previous.get("merged", []) + [{"started": results["started"], "argv": argv or [],
                                                "sections": list(args.only)}]
        results = {**previous, "merged": merged}
    bundle, model_file, model_note, trained = benchmark_model(args.model)
    results["model"] = model_note
    print(f"model: {model_note}", flush=True)

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=float))

    def section(name: str, run: Callable[[], object]) -> None:
        """Run one section, waiting first for a free CPU if asked; note who else used the CPU meanwhile."""
        waited = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else 0.0
        if waited > 1:
            print(f"  waited {waited:.0f} s for other processes to leave the CPU", flush=True)
        print(name, flush=True)
        snapshot, start = process_ticks(), time.time()
        run()
        elapsed = time.time() - start
        busy = competitors_since(snapshot, elapsed)
        results["states"].append({"section": name, "start": dt.datetime.fromtimestamp(start, dt.timezone.utc)
                                  .isoformat(timespec="seconds"), "seconds": round(elapsed, 1),
                                  "waited_s": round(waited),
                                  "loadavg_end": [round(v, 2) for v in os.getloadavg()], "competitors": busy,
                                  "quiet": not busy})
        if busy:
            print(f"  note: the CPU was shared during {name}: {busy[:2]}", flush=True)
        save()

    devices = [device] + ([torch.device("cuda")] if torch.cuda.is_available() else [])

    def matmul_and_inference() -> None:
        results["matmul"] = section_matmul(args, device)
        print(f"  matmul: fp32 {results['matmul']['fp32']['flops_per_s'] / 1e9:.0f} GFLOP/s, bf16 "
              f"{results['matmul']['bf16']['flops_per_s'] / 1e9:.0f} GFLOP/s", flush=True)
        if "inference" in args.only:
            results["inference"] = section_inference(args, bundle, model_file, device, results["matmul"])
            for extra in devices[1:]:  # a GPU, when there is one
                matmul = section_matmul(args, extra)
                results[f"matmul_{extra.type}"] = matmul
                results[f"inference_{extra.type}"] = section_inference(args, bundle, model_file, extra, matmul)

    def accuracy() -> None:
        accuracy_bundle, accuracy_trained, accuracy_file = bundle, trained, model_file
        if args.accuracy_model:
            from countxplain.modelfile import load_model

            accuracy_file = Path(args.accuracy_model)
            accuracy_bundle, accuracy_trained = load_model(accuracy_file), True
        results["accuracy"] = section_accuracy(args, accuracy_bundle, accuracy_file, accuracy_trained)

    section("matmul + inference", matmul_and_inference)
    if "accuracy" in args.only:
        section("bf16 accuracy", accuracy)
    if "training" in args.only:
        section("stage-2 training", lambda: results.__setitem__("training", section_training(args, model_file)))
    if "app" in args.only:
        section("app start", lambda: results.__setitem__("app", section_app(args, model_file)))
    if "memory" in args.only:
        section("memory", lambda: results.__setitem__("memory", section_memory(args, model_file)))
    section("matmul again", lambda: results.__setitem__("matmul_end", section_matmul(args, device)))
    if args.merge and results.get("merged"):
        results["merged"][-1]["finished"] = now()
    else:
        results["finished"] = now()
    apply_yardstick(results)
    save()
    write_report(results, args.report)
    print(f"wrote {args.out} and {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
