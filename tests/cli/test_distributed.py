"""``countxplain count --workers/--scheduler`` on a real local Dask cluster of two one-thread worker processes:
the same counts as the local loop, no image lost when a worker is killed mid-run, ``--resume`` skips what
the CSV holds, bad input and an unreachable scheduler each say so in one line."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from helpers import REPO_ROOT
from helpers.cli import cli_lines, one_error_line, run_cli

pytestmark = pytest.mark.slow

IMAGE_COUNT = 50
CROP = 96


@pytest.fixture(scope="module")
def fifty_images(tmp_path_factory):
    """50 small PNGs cut from the bundled samples at different places."""
    folder = tmp_path_factory.mktemp("fifty")
    samples = [np.asarray(Image.open(path).convert("RGB"))
               for path in sorted((REPO_ROOT / "resources" / "samples").glob("*.png"))]
    rng = np.random.default_rng(0)
    for index in range(IMAGE_COUNT):
        pixels = samples[index % len(samples)]
        top, left = (int(rng.integers(0, extent - CROP)) for extent in pixels.shape[:2])
        Image.fromarray(pixels[top:top + CROP, left:left + CROP]).save(folder / f"image-{index:02d}.png")
    return folder


def counts_in(csv_path):
    import csv

    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    files = [row["file"] for row in rows]
    assert len(files) == len(set(files)), "an image has two rows"
    return {os.path.basename(row["file"]): float(row["count"]) for row in rows}


@pytest.fixture(scope="module")
def local_counts(fifty_images, tmp_path_factory, shipped_model_path):
    out = tmp_path_factory.mktemp("local") / "counts.csv"
    result = run_cli("count", fifty_images, "--out", out, "--model", shipped_model_path)
    assert result.returncode == 0, result.stderr
    return counts_in(out)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster, set_as_default=False) as client:
        yield cluster, client


def assert_counts_match(found, expected):
    assert sorted(found) == sorted(expected)
    assert all(found[name] == pytest.approx(expected[name], rel=1e-4, abs=0.01) for name in expected), \
        {name: (found[name], expected[name]) for name in expected if abs(found[name] - expected[name]) > 0.01}


def test_fifty_images_on_two_workers_count_as_the_local_loop_does(fifty_images, local_counts, cluster, tmp_path,
                                                                   shipped_model_path):
    out = tmp_path / "counts.csv"
    result = run_cli("count", fifty_images, "--out", out, "--model", shipped_model_path,
                     "--scheduler", cluster[0].scheduler_address)
    assert result.returncode == 0, result.stderr
    assert len(cli_lines(result.stdout)) == IMAGE_COUNT
    assert_counts_match(counts_in(out), local_counts)


def test_each_worker_loads_the_model_once_not_once_per_image(cluster):
    client = cluster[1]

    def counters_loaded():
        from countxplain import distributed

        return len(distributed._counters)

    loaded = client.run(counters_loaded)  # after the 50 images of the test above
    assert sorted(loaded.values()) == [1, 1], loaded


def exit_soon():
    """End this worker process a moment after answering, as a crash or an out-of-memory kill would."""
    import threading

    threading.Timer(0.2, os._exit, args=(1,)).start()


def test_a_worker_killed_mid_run_loses_no_image(fifty_images, local_counts, cluster, tmp_path, shipped_model_path):
    _, client = cluster
    out = tmp_path / "counts.csv"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "countxplain.cli", "count", str(fifty_images), "--out", str(out),
                                "--model", str(shipped_model_path), "--scheduler", cluster[0].scheduler_address],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = process.stdout.readline()
        assert first, process.stderr.read()
        victim = sorted(client.scheduler_info()["workers"])[0]
        client.run(exit_soon, workers=[victim])
        rest, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert len(cli_lines(first + rest)) == IMAGE_COUNT
    assert_counts_match(counts_in(out), local_counts)
    client.wait_for_workers(2, timeout=120)  # the nanny has started a new one


def test_resume_counts_only_the_images_the_csv_does_not_hold(fifty_images, local_counts, cluster, tmp_path,
                                                             shipped_model_path):
    import csv

    out = tmp_path / "counts.csv"
    half = sorted(fifty_images.glob("*.png"))[:IMAGE_COUNT // 2]
    first = run_cli("count", *half, "--out", out, "--model", shipped_model_path,
                    "--scheduler", cluster[0].scheduler_address)
    assert first.returncode == 0, first.stderr
    second = run_cli("count", fifty_images, "--out", out, "--resume", "--model", shipped_model_path,
                     "--scheduler", cluster[0].scheduler_address)
    assert second.returncode == 0, second.stderr
    assert f"{len(half)} image(s) already in" in second.stderr
    assert len(cli_lines(second.stdout)) == IMAGE_COUNT - len(half)
    assert_counts_match(counts_in(out), local_counts)
    with open(out, newline="", encoding="utf-8") as handle:
        assert sum(1 for _ in csv.reader(handle)) == IMAGE_COUNT + 1


def test_an_unreadable_file_gives_one_line_and_the_rest_are_counted(fifty_images, local_counts, tmp_path,
                                                                    shipped_model_path):
    """With --workers: the local cluster this command starts itself."""
    images = sorted(fifty_images.glob("*.png"))[:4]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a PNG")
    out = tmp_path / "counts.csv"
    result = run_cli("count", *images, broken, "--out", out, "--model", shipped_model_path, "--workers", "2")
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert "broken.png" in line
    found = counts_in(out)
    assert_counts_match(found, {name: local_counts[name] for name in found})
    assert sorted(found) == sorted(image.name for image in images)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_fails_in_one_line_within_30_s(fifty_images):
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    result = run_cli("count", sorted(fifty_images.glob("*.png"))[0], "--scheduler", address)
    assert time.monotonic() - start < 30
    assert result.returncode == 1
    assert address in one_error_line(result.stderr)


def test_workers_and_scheduler_together_are_refused(fifty_images):
    result = run_cli("count", fifty_images, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert "not both" in one_error_line(result.stderr)


def test_the_app_and_the_plain_command_line_never_import_dask(tmp_path, rgb_image, tiny_model_file):
    code = f"""
import json, sys
import countxplain.cli, cxdesktop.app
imported = [sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed", "zarr"))]
countxplain.cli.main(["count", {str(rgb_image)!r}, "--model", {str(tiny_model_file)!r}, "--cell-diameter", "as-is"])
imported.append(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed", "zarr")))
print(json.dumps(imported))
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    after_import, after_count = json.loads(result.stdout.strip().splitlines()[-1])
    assert after_import == [] and after_count == []
