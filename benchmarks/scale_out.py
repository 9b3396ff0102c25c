"""Images per second of ``countxplain count`` in this process and on local Dask clusters of one-thread workers.

The same images (the first ``--images`` dsb2018 images by name) are counted the way ``countxplain count``
counts them (shipped model, cell size 'auto', fp32 'auto' precision, one view) by: the plain local loop
(``batch.count_item`` on one ``Counter``), and ``distributed.outcomes`` on a ``LocalCluster`` of 1 and of
2 worker processes of one thread each. Every configuration is warmed first (the model loaded, one image
counted on each worker), so the times are steady throughput, not start-up; start-up is recorded apart.
The engine's overhead per image is (1-worker wall time - local wall time) / images. Memory per worker
is each worker's resident set size after its run. Counts are checked equal to the local loop's.

The worker count a run can use is the CPUs it may run on: under ``taskset -c 1`` two workers share one
core, so their rate shows the engine's cost, not a speed-up.

Writes ``benchmarks/results/scale_out.json`` and the "Scale-out" section of ``benchmarks/PERF.md``.

Usage: OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/scale_out.py [--images 300] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perfkit.machine import machine_info, now  # noqa: E402
from perfkit.report import REPORT, scale_out_section  # noqa: E402

from countxplain.batch import CountSettings, count_item  # noqa: E402
from countxplain.modelfile import load_model  # noqa: E402
from countxplain.resources import default_model_path  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "scale_out.json"
WORKER_COUNTS = (1, 2)
SECTION_TITLE = "## Scale-out"


def local_run(images: list[Path], settings: CountSettings) -> dict:
    start = time.perf_counter()
    counter = settings.counter(load_model(settings.model))
    count_item(counter, images[0], settings)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    outcomes = [count_item(counter, image, settings) for image in images]
    wall = time.perf_counter() - start
    return {"wall_s": wall, "images_per_s": len(images) / wall, "start_s": warm,
            "counts": {str(o.item): o.count for o in outcomes}, "errors": [o.error for o in outcomes if o.error]}


def cluster_run(images: list[Path], settings: CountSettings, workers: int) -> dict:
    import psutil
    from distributed import Client, LocalCluster

    from countxplain.distributed import count_task, outcomes

    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster, set_as_default=False) as client:
        addresses = sorted(client.scheduler_info()["workers"])
        client.gather([client.submit(count_task, images[0], settings, workers=[address], pure=False)
                       for address in addresses])
        warm = time.perf_counter() - start
        start = time.perf_counter()
        results = list(outcomes(client, images, settings))
        wall = time.perf_counter() - start
        rss = client.run(lambda: psutil.Process().memory_info().rss / 2**20)
    done = [outcome for _, outcome in results if outcome is not None]
    return {"workers": workers, "wall_s": wall, "images_per_s": len(images) / wall, "start_s": warm,
            "worker_rss_mib": sorted(rss.values()), "counts": {str(o.item): o.count for o in done},
            "errors": [o.error for o in done if o.error], "lost": len(results) - len(done)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args(argv)
    images = sorted((args.data / "dsb2018" / "images").glob("*.png"))[:args.images]
    if len(images) < args.images:
        sys.exit(f"error: {args.data / 'dsb2018' / 'images'}: {len(images)} images, {args.images} asked for")
    torch.set_num_threads(1)
    settings = CountSettings(model=default_model_path())
    local = local_run(images, settings)
    print(f"local loop: {local['images_per_s']:.2f} images/s", flush=True)
    clusters = []
    for workers in WORKER_COUNTS:
        run = cluster_run(images, settings, workers)
        print(f"{workers} worker(s): {run['images_per_s']:.2f} images/s", flush=True)
        clusters.append(run)
    results = {
        "started": now(), "machine": machine_info(), "cpus_usable": len(os.sched_getaffinity(0)),
        "images": len(images), "image_sides": sorted({f"{w}x{h}" for w, h in map(image_size, images)}),
        "settings": {"model": settings.model.name, "cell_diameter": settings.cell_diameter,
                     "precision": settings.precision, "flips": settings.flips},
        "local": {key: value for key, value in local.items() if key != "counts"},
        "clusters": [{key: value for key, value in run.items() if key != "counts"} for run in clusters],
        "overhead_per_image_s": (clusters[0]["wall_s"] - local["wall_s"]) / len(images),
        "worst_count_difference": max(abs(run["counts"].get(name, float("inf")) - count)
                                      for run in clusters for name, count in local["counts"].items()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    replace_section(REPORT, scale_out_section(RESULTS))
    print("\n".join(scale_out_section(RESULTS)))
    return 0


def image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def replace_section(report: Path, section: list[str]) -> None:
    """Put ``section`` in place of the report's scale-out section, or before the accelerator check."""
    lines = report.read_text().splitlines()
    if SECTION_TITLE in lines:
        start = lines.index(SECTION_TITLE)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        start = end = next((i for i, line in enumerate(lines) if line.startswith("## Accelerator check")), len(lines))
    report.write_text("\n".join(lines[:start] + section + lines[end:]) + "\n")


if __name__ == "__main__":
    sys.exit(main())
