"""The ``countxplain`` command line at work: counting to CSV, cell sizes, views, training and explaining
(bad input and its one-line errors: ``test_cli_errors.py``)."""

from __future__ import annotations

import csv
import shutil
import subprocess

import numpy as np
import pytest
import tifffile
import torch

from countxplain import __version__
from countxplain.cli import main
from helpers.cli import cli_lines, run_cli, small_png

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_count_writes_csv(tiny_model_file, rgb_image, tmp_path):
    out = tmp_path / "results" / "counts.csv"
    second = small_png(tmp_path / "second.png")
    result = run_cli("count", rgb_image, second, "--model", tiny_model_file, "--device", "cpu", "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    with open(out, newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["file", "count", "model", "cell_diameter_px", "cell_size", "scale", "device",
                                     "seconds"]
        rows = list(reader)
    assert [r["file"] for r in rows] == [str(rgb_image), str(second)]
    for row in rows:
        assert float(row["count"]) > 0
        assert row["model"] == "tiny test model"
        assert row["device"] == "cpu"
        assert float(row["seconds"]) >= 0
        # the tiny model has no size estimator: 'auto' counts the image as it is
        assert (row["cell_size"], row["cell_diameter_px"], row["scale"]) == ("as it is", "10.00", "1.0000")
    printed = cli_lines(result.stdout)
    assert len(printed) == 2
    path, count = printed[0].split("\t")
    assert path == str(rgb_image)
    assert float(count) == pytest.approx(float(rows[0]["count"]), abs=0.06)


def test_folders_are_searched_recursively_and_hidden_files_skipped(tiny_model_file, tmp_path, capsys):
    small_png(tmp_path / "a" / "b" / "deep.png")
    small_png(tmp_path / "a" / ".hidden.png")
    (tmp_path / "a" / "notes.txt").write_text("ignored: not an image type")
    code = main(["count", str(tmp_path / "a"), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [line.split("\t")[0] for line in cli_lines(captured.out)] == [str(tmp_path / "a" / "b" / "deep.png")]


def test_default_model_from_environment(tiny_model_file, rgb_image, monkeypatch, capsys):
    monkeypatch.setenv("COUNTXPLAIN_MODEL", str(tiny_model_file))
    assert main(["count", str(rgb_image), "--device", "cpu"]) == 0
    assert cli_lines(capsys.readouterr().out)[0].startswith(str(rgb_image))


def test_page_option_reaches_the_reader(tiny_model_file, tmp_path, capsys):
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.random.default_rng(0).integers(0, 255, (3, 32, 40), dtype=np.uint8),
                     photometric="minisblack")
    code = main(["count", str(stack), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    assert len(cli_lines(captured.err)) == 1 and "--page" in captured.err
    assert main(["count", str(stack), "--model", str(tiny_model_file), "--device", "cpu", "--page", "1"]) == 0


def test_device_fallback_is_reported_only_for_a_gpu_asked_for_by_name(tiny_model_file, rgb_image, capsys):
    from countxplain.device import cuda_problem

    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "auto"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cuda"]) == 0
    err = capsys.readouterr().err
    if cuda_problem() is None:
        assert err == ""
    else:
        assert cli_lines(err) == [line for line in cli_lines(err) if line.startswith("device: cpu (using the CPU:")]
        assert len(cli_lines(err)) == 1


@pytest.mark.skipif(shutil.which("countxplain") is None, reason="console script not installed")
def test_console_script_entry_point():
    result = subprocess.run(["countxplain", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and __version__ in result.stdout


def test_a_given_cell_diameter_rescales_and_is_recorded(tiny_model_file, rgb_image, tmp_path):
    out = tmp_path / "counts.csv"
    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu",
                 "--cell-diameter", "5", "--out", str(out)]) == 0
    row = next(csv.DictReader(out.open(newline="")))
    assert (row["cell_size"], row["cell_diameter_px"], row["scale"]) == ("given", "5.00", "2.0000")  # model: 10 px


def test_shipped_model_counts_without_a_cell_size(shipped_model_path, data_root, tmp_path, capsys):
    """With no size given, the shipped model counts vgg/001cell.png (cells near its training size) as it is,
    and a bundled dsb2018 sample whose nuclei are ~5x larger at the estimated size."""
    from countxplain.annotations import read_dots
    from countxplain.resources import sample_images_dir

    sample = sample_images_dir() / "dsb2018-fluo-40b00d70.png"
    annotated = len(read_dots(sample.with_name(sample.stem + ".dots.csv")))
    out = tmp_path / "counts.csv"
    assert main(["count", str(data_root / "vgg" / "001cell.png"), str(sample), "--out", str(out)]) == 0
    vgg, dsb = csv.DictReader(out.open(newline=""))
    assert vgg["cell_size"].startswith("as it is") and float(vgg["count"]) == pytest.approx(135, rel=0.10)
    assert dsb["cell_size"] == "estimated" and float(dsb["scale"]) < 0.5
    assert main(["count", str(sample), "--cell-diameter", "as-is"]) == 0
    as_is = float(capsys.readouterr().out.strip().splitlines()[-1].split("\t")[1])
    assert abs(float(dsb["count"]) - annotated) < 0.3 * annotated < abs(as_is - annotated)


@pytest.mark.parametrize("diameter_args, expect_scale_one", [((), False), (("--cell-diameter", "as-is"), True),
                                                             (("--fit-to-stride",), False)])
def test_train_as_is_keeps_images_unscaled(tiny_model_file, tmp_path, monkeypatch, capsys, diameter_args,
                                           expect_scale_one):
    """``train --cell-diameter as-is`` trains on the images as they are; by default each image is
    brought from its dot spacing (about 20 px here) to the training diameter (10 px); ``--fit-to-stride``
    makes a model that resizes to whole output cells."""
    from countxplain.annotations import write_dots_csv
    from countxplain.modelfile import load_model
    from countxplain.training import entry as training_entry

    folder = tmp_path / "cells"
    for i in range(3):
        image = small_png(folder / f"cells{i}.png", seed=i, size=(64, 64))
        grid = np.stack(np.meshgrid(np.arange(12.0, 60, 20), np.arange(12.0, 60, 20)), axis=-1).reshape(-1, 2)
        write_dots_csv(image.with_name(f"cells{i}.dots.csv"), grid)
    scales = []
    original = training_entry.prepare_images

    def recording(*args, **kwargs):
        images = original(*args, **kwargs)
        scales.extend(image.scale for image in images)
        return images

    monkeypatch.setattr(training_entry, "prepare_images", recording)
    out = tmp_path / "trained.cxm"
    assert main(["train", str(folder), "--out", str(out), "--init", str(tiny_model_file), "--k-cell", "2",
                 "--k-bg", "2", "--stage1-epochs", "1", "--epochs", "1", *diameter_args]) == 0
    assert "saved" in capsys.readouterr().out and load_model(out).config.k_cell == 2
    assert load_model(out).preprocessing.get("fit_to_stride", False) == ("--fit-to-stride" in diameter_args)
    assert len(scales) == 3
    assert all(s == 1.0 for s in scales) == expect_scale_one
    if not expect_scale_one:
        assert scales == pytest.approx([0.5] * 3)


def test_explain_with_flips_records_them_and_its_numbers_still_add_up(tiny_model_file, rgb_image, tmp_path, capsys):
    import json

    for flips in (1, 4):
        assert main(["explain", str(rgb_image), "--out", str(tmp_path / str(flips)), "--model", str(tiny_model_file),
                     "--device", "cpu", "--cell-diameter", "as-is", "--flips", str(flips)]) == 0
        data = json.loads((tmp_path / str(flips) / f"{rgb_image.stem}-explanation.json").read_text())
        assert data["flips"] == flips and data["whole_cells"] == (flips > 1)
        total = sum(p["contribution"] for p in data["prototypes"]) + data["bias_term"]
        assert total == pytest.approx(data["count"], rel=1e-5, abs=1e-4)
    with pytest.raises(SystemExit) as refused:
        main(["explain", str(rgb_image), "--out", str(tmp_path), "--flips", "3"])
    assert refused.value.code == 2 and "--flips" in capsys.readouterr().err


def test_count_on_whole_cells_differs_from_padded_and_is_asked_for_by_name(tiny_model_file, rgb_image, capsys):
    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu",
                 "--cell-diameter", "13"]) == 0
    padded = capsys.readouterr().out
    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu",
                 "--cell-diameter", "13", "--whole-cells"]) == 0
    whole = capsys.readouterr().out
    assert padded.strip() and whole.strip() and padded != whole


def test_four_views_count_on_whole_cells_unless_no_whole_cells_is_given(tiny_model_file, rgb_image, capsys):
    args = ["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu", "--cell-diameter", "13"]
    outputs = {}
    for extra in (["--flips", "4"], ["--flips", "4", "--whole-cells"], ["--flips", "4", "--no-whole-cells"]):
        assert main(args + extra) == 0
        outputs[" ".join(extra)] = capsys.readouterr().out
    assert outputs["--flips 4"] == outputs["--flips 4 --whole-cells"]
    assert outputs["--flips 4"] != outputs["--flips 4 --no-whole-cells"]


def test_train_on_other_images_with_the_same_checkpoint_starts_afresh_and_says_so(tiny_model_file, tmp_path, capsys):
    from countxplain.annotations import write_dots_csv
    from countxplain.modelfile import load_model

    grid = np.stack(np.meshgrid(np.arange(12.0, 60, 20), np.arange(12.0, 60, 20)), axis=-1).reshape(-1, 2)
    checkpoint, models = tmp_path / "run.ckpt", []
    for name, seed in (("first", 0), ("second", 10)):
        for i in range(2):
            image = small_png(tmp_path / name / f"cells{i}.png", seed=seed + i, size=(64, 64))
            write_dots_csv(image.with_name(f"cells{i}.dots.csv"), grid[: 4 + 2 * i + seed // 10])
        out = tmp_path / f"{name}.cxm"
        assert main(["train", str(tmp_path / name), "--out", str(out), "--init", str(tiny_model_file),
                     "--k-cell", "2", "--k-bg", "2", "--stage1-epochs", "1", "--epochs", "1",
                     "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
        models.append(load_model(out))
    captured = capsys.readouterr()
    notes = [line for line in cli_lines(captured.err) if line.startswith("note:")]
    assert len(notes) == 1 and str(checkpoint) in notes[0] and "afresh" in notes[0]
    assert "stage1 epoch 1/1" in captured.out.split("saved")[1]  # the second run trained instead of resuming
    first, second = (m.network.head.prototypes for m in models)
    assert not torch.equal(first, second)
