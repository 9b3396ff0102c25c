"""The ``countxplain`` command line: counting to CSV, and one-line errors with a non-zero exit."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from countxplain import __version__
from countxplain.cli import main
from model_files import with_weight_byte_flipped


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run_cli(*args, env_extra=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "countxplain.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


def _small_png(path, seed=0, size=(40, 56)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)).save(path)
    return path


def test_count_writes_csv(tiny_model_file, rgb_image, tmp_path):
    out = tmp_path / "results" / "counts.csv"
    second = _small_png(tmp_path / "second.png")
    result = _run_cli("count", rgb_image, second, "--model", tiny_model_file, "--device", "cpu", "--out", out)
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
    printed = _lines(result.stdout)
    assert len(printed) == 2
    path, count = printed[0].split("\t")
    assert path == str(rgb_image)
    assert float(count) == pytest.approx(float(rows[0]["count"]), abs=0.06)


def test_folder_with_a_bad_file(tiny_model_file, tmp_path, capsys):
    folder = tmp_path / "images"
    good = _small_png(folder / "good.png")
    bad = folder / "bad.png"
    bad.write_text("I am a text file, not a PNG\n")
    out = tmp_path / "counts.csv"
    code = main(["count", str(folder), "--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in _lines(captured.err) if line.startswith("error:")]
    assert len(errors) == 1
    assert "bad.png" in errors[0] and "not an image" in errors[0]
    assert len(_lines(captured.err)) == 1
    assert _lines(captured.out)[0].startswith(f"{good}\t")
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["file"] for r in rows] == [str(good)]


def test_folders_are_searched_recursively_and_hidden_files_skipped(tiny_model_file, tmp_path, capsys):
    _small_png(tmp_path / "a" / "b" / "deep.png")
    _small_png(tmp_path / "a" / ".hidden.png")
    (tmp_path / "a" / "notes.txt").write_text("ignored: not an image type")
    code = main(["count", str(tmp_path / "a"), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [line.split("\t")[0] for line in _lines(captured.out)] == [str(tmp_path / "a" / "b" / "deep.png")]


def test_empty_folder(tiny_model_file, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run_cli("count", empty, "--model", tiny_model_file)
    assert result.returncode != 0
    lines = _lines(result.stderr)
    assert len(lines) == 1
    assert lines[0].startswith("error:") and str(empty) in lines[0]
    assert result.stdout.strip() == ""


def test_missing_path(tiny_model_file, tmp_path, capsys):
    code = main(["count", str(tmp_path / "nowhere.png"), "--model", str(tiny_model_file)])
    captured = capsys.readouterr()
    assert code != 0
    lines = _lines(captured.err)
    assert len(lines) == 1 and "nowhere.png" in lines[0] and "does not exist" in lines[0]


def test_no_model_and_no_default(rgb_image, tmp_path):
    absent = tmp_path / "no" / "default.cxm"
    result = _run_cli("count", rgb_image, "--device", "cpu", env_extra={"COUNTXPLAIN_MODEL": str(absent)})
    assert result.returncode != 0
    lines = _lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert str(absent) in lines[0]
    assert "--model" in lines[0] and "train" in lines[0]  # says how to get one
    assert "Traceback" not in result.stderr


def test_default_model_from_environment(tiny_model_file, rgb_image, monkeypatch, capsys):
    monkeypatch.setenv("COUNTXPLAIN_MODEL", str(tiny_model_file))
    assert main(["count", str(rgb_image), "--device", "cpu"]) == 0
    assert _lines(capsys.readouterr().out)[0].startswith(str(rgb_image))


@pytest.mark.parametrize("tamper", ["truncate", "text", "flip-header", "flip-weight"])
def test_tampered_model_file(tiny_model_file, rgb_image, tmp_path, tamper, capsys):
    model = tmp_path / "tampered.cxm"
    data = tiny_model_file.read_bytes()
    if tamper == "truncate":
        model.write_bytes(data[: len(data) // 3])
    elif tamper == "text":
        model.write_text("definitely not a model")
    elif tamper == "flip-weight":
        model.write_bytes(with_weight_byte_flipped(data)[0])
    else:
        model.write_bytes(b"XX" + data[2:])
    code = main(["count", str(rgb_image), "--model", str(model), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code != 0
    lines = _lines(captured.err)
    assert len(lines) == 1
    assert lines[0].startswith("error:") and "tampered.cxm" in lines[0]
    assert captured.out.strip() == ""


def test_tampered_model_file_in_a_subprocess(tiny_model_file, rgb_image, tmp_path):
    model = tmp_path / "cut.cxm"
    model.write_bytes(tiny_model_file.read_bytes()[:5000])
    result = _run_cli("count", rgb_image, "--model", model, "--device", "cpu")
    assert result.returncode != 0
    lines = _lines(result.stderr)
    assert len(lines) == 1 and "cut.cxm" in lines[0]
    assert "Traceback" not in result.stderr


def test_page_option_reaches_the_reader(tiny_model_file, tmp_path, capsys):
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.random.default_rng(0).integers(0, 255, (3, 32, 40), dtype=np.uint8),
                     photometric="minisblack")
    code = main(["count", str(stack), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    assert len(_lines(captured.err)) == 1 and "--page" in captured.err
    assert main(["count", str(stack), "--model", str(tiny_model_file), "--device", "cpu", "--page", "1"]) == 0


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["count"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_device_is_one_line(tiny_model_file, rgb_image, capsys):
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "tpu"])
    captured = capsys.readouterr()
    assert code != 0
    assert len(_lines(captured.err)) == 1 and "tpu" in captured.err


def test_device_fallback_is_reported_only_for_a_gpu_asked_for_by_name(tiny_model_file, rgb_image, capsys):
    from countxplain.device import cuda_problem

    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "auto"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cuda"]) == 0
    err = capsys.readouterr().err
    if cuda_problem() is None:
        assert err == ""
    else:
        assert _lines(err) == [line for line in _lines(err) if line.startswith("device: cpu (using the CPU:")]
        assert len(_lines(err)) == 1


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


def test_a_tiny_cell_diameter_is_one_line_naming_the_image(tiny_model_file, rgb_image, capsys):
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu",
                 "--cell-diameter", "0.001"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"error: {rgb_image}: a cell diameter of 0.001 px would enlarge")


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "big"])
def test_a_bad_cell_diameter_is_a_usage_error(tiny_model_file, rgb_image, value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["count", str(rgb_image), "--model", str(tiny_model_file), "--cell-diameter", value])
    assert info.value.code == 2 and "'auto' or 'as-is'" in capsys.readouterr().err


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
    from countxplain import training_data
    from countxplain.annotations import write_dots_csv
    from countxplain.modelfile import load_model

    folder = tmp_path / "cells"
    for i in range(3):
        image = _small_png(folder / f"cells{i}.png", seed=i, size=(64, 64))
        grid = np.stack(np.meshgrid(np.arange(12.0, 60, 20), np.arange(12.0, 60, 20)), axis=-1).reshape(-1, 2)
        write_dots_csv(image.with_name(f"cells{i}.dots.csv"), grid)
    scales = []
    original = training_data.prepare_images

    def recording(*args, **kwargs):
        images = original(*args, **kwargs)
        scales.extend(image.scale for image in images)
        return images

    monkeypatch.setattr(training_data, "prepare_images", recording)
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


# --- output paths and files that cannot be written or read ------------------------------------------

def _one_error_line(err):
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def test_count_out_that_is_a_folder_is_refused_before_counting(tiny_model_file, rgb_image, tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu", "--out", str(folder)])
    captured = capsys.readouterr()
    assert code == 1
    assert str(folder) in _one_error_line(captured.err) and "folder" in captured.err
    assert captured.out == ""  # nothing was counted


def test_count_out_inside_a_file_is_refused_before_counting(tiny_model_file, rgb_image, tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder is needed")
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu",
                 "--out", str(blocker / "sub" / "counts.csv")])
    captured = capsys.readouterr()
    assert code == 1
    assert str(blocker) in _one_error_line(captured.err)
    assert captured.out == ""


def test_train_out_that_is_a_folder_is_refused_before_training(tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    code = main(["train", str(tmp_path / "nowhere"), "--out", str(folder), "--cell-diameter", "10"])
    assert code == 1
    assert "--out" in _one_error_line(capsys.readouterr().err)


def test_explain_out_that_is_a_file_is_one_line(tiny_model_file, rgb_image, tmp_path, capsys):
    existing = tmp_path / "report"
    existing.write_text("keep me")
    code = main(["explain", str(rgb_image), "--out", str(existing), "--model", str(tiny_model_file),
                 "--device", "cpu"])
    assert code == 1
    assert str(existing) in _one_error_line(capsys.readouterr().err)
    assert existing.read_text() == "keep me"


def test_an_image_over_the_pixel_limit_is_reported_and_the_others_still_count(tiny_model_file, tmp_path, monkeypatch,
                                                                             capsys):
    huge = _small_png(tmp_path / "huge.png", size=(64, 64))
    small = _small_png(tmp_path / "small.png", size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 64×64 is over twice the limit, 40×40 under it
    out = tmp_path / "counts.csv"
    code = main(["count", str(huge), str(small), "--model", str(tiny_model_file), "--device", "cpu",
                 "--cell-diameter", "as-is", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "huge.png" in _one_error_line(captured.err) and "too large" in captured.err
    assert [line.split("\t")[0] for line in _lines(captured.out)] == [str(small)]
    with open(out, newline="") as handle:
        assert [row["file"] for row in csv.DictReader(handle)] == [str(small)]


def test_an_os_error_while_writing_is_one_line(tiny_model_file, rgb_image, tmp_path, monkeypatch, capsys):
    from countxplain import annotations

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(annotations, "atomic_write_bytes", disk_full)
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu",
                 "--out", str(tmp_path / "counts.csv")])
    assert code == 1
    assert "No space left" in _one_error_line(capsys.readouterr().err)


# --- evaluate --------------------------------------------------------------------------------------

def test_evaluate_on_an_empty_folder_is_one_line_and_fails(tiny_model_file, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["evaluate", str(empty), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    line = _one_error_line(captured.err)
    assert str(empty) in line and "no image files" in line
    assert captured.out == ""


def test_evaluate_on_unannotated_images_names_what_it_found(tiny_model_file, tmp_path, capsys):
    folder = tmp_path / "plain"
    _small_png(folder / "a.png")
    _small_png(folder / "b.png", seed=1)
    (folder / "notes.txt").write_text("not an image")
    code = main(["evaluate", str(folder), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    line = _one_error_line(captured.err)
    assert "no image has a dot annotation" in line
    assert "2 image(s) without a dot file, 1 other file(s)" in line
    assert captured.out == ""  # no "n=0 MAE nan"


def test_evaluate_samples_refuses_an_empty_list(tiny_model_file):
    from countxplain.errors import CountXplainError
    from countxplain.evaluation import evaluate_samples
    from countxplain.modelfile import load_model

    with pytest.raises(CountXplainError, match="no annotated images"):
        evaluate_samples(load_model(tiny_model_file), [], None)


def test_train_on_other_images_with_the_same_checkpoint_starts_afresh_and_says_so(tiny_model_file, tmp_path, capsys):
    from countxplain.annotations import write_dots_csv
    from countxplain.modelfile import load_model

    grid = np.stack(np.meshgrid(np.arange(12.0, 60, 20), np.arange(12.0, 60, 20)), axis=-1).reshape(-1, 2)
    checkpoint, models = tmp_path / "run.ckpt", []
    for name, seed in (("first", 0), ("second", 10)):
        for i in range(2):
            image = _small_png(tmp_path / name / f"cells{i}.png", seed=seed + i, size=(64, 64))
            write_dots_csv(image.with_name(f"cells{i}.dots.csv"), grid[: 4 + 2 * i + seed // 10])
        out = tmp_path / f"{name}.cxm"
        assert main(["train", str(tmp_path / name), "--out", str(out), "--init", str(tiny_model_file),
                     "--k-cell", "2", "--k-bg", "2", "--stage1-epochs", "1", "--epochs", "1",
                     "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
        models.append(load_model(out))
    captured = capsys.readouterr()
    notes = [line for line in _lines(captured.err) if line.startswith("note:")]
    assert len(notes) == 1 and str(checkpoint) in notes[0] and "afresh" in notes[0]
    assert "stage1 epoch 1/1" in captured.out.split("saved")[1]  # the second run trained instead of resuming
    first, second = (m.network.head.prototypes for m in models)
    assert not torch.equal(first, second)
