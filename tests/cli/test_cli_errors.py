"""The ``countxplain`` command line given bad input: unreadable images and model files, paths that
cannot be written, impossible options; each a one-line error and a non-zero exit, the rest still done."""

from __future__ import annotations

import csv

import pytest
from PIL import Image

from countxplain import __version__
from countxplain.cli import main
from helpers.cli import cli_lines, one_error_line, run_cli, small_png
from helpers.model_files import with_weight_byte_flipped

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_folder_with_a_bad_file(tiny_model_file, tmp_path, capsys):
    folder = tmp_path / "images"
    good = small_png(folder / "good.png")
    bad = folder / "bad.png"
    bad.write_text("I am a text file, not a PNG\n")
    out = tmp_path / "counts.csv"
    code = main(["count", str(folder), "--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in cli_lines(captured.err) if line.startswith("error:")]
    assert len(errors) == 1
    assert "bad.png" in errors[0] and "not an image" in errors[0]
    assert len(cli_lines(captured.err)) == 1
    assert cli_lines(captured.out)[0].startswith(f"{good}\t")
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["file"] for r in rows] == [str(good)]


def test_empty_folder(tiny_model_file, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("count", empty, "--model", tiny_model_file)
    assert result.returncode != 0
    lines = cli_lines(result.stderr)
    assert len(lines) == 1
    assert lines[0].startswith("error:") and str(empty) in lines[0]
    assert result.stdout.strip() == ""


def test_missing_path(tiny_model_file, tmp_path, capsys):
    code = main(["count", str(tmp_path / "nowhere.png"), "--model", str(tiny_model_file)])
    captured = capsys.readouterr()
    assert code != 0
    lines = cli_lines(captured.err)
    assert len(lines) == 1 and "nowhere.png" in lines[0] and "does not exist" in lines[0]


def test_no_model_and_no_default(rgb_image, tmp_path):
    absent = tmp_path / "no" / "default.cxm"
    result = run_cli("count", rgb_image, "--device", "cpu", env_extra={"COUNTXPLAIN_MODEL": str(absent)})
    assert result.returncode != 0
    lines = cli_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert str(absent) in lines[0]
    assert "--model" in lines[0] and "train" in lines[0]  # says how to get one
    assert "Traceback" not in result.stderr


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
    lines = cli_lines(captured.err)
    assert len(lines) == 1
    assert lines[0].startswith("error:") and "tampered.cxm" in lines[0]
    assert captured.out.strip() == ""


def test_tampered_model_file_in_a_subprocess(tiny_model_file, rgb_image, tmp_path):
    model = tmp_path / "cut.cxm"
    model.write_bytes(tiny_model_file.read_bytes()[:5000])
    result = run_cli("count", rgb_image, "--model", model, "--device", "cpu")
    assert result.returncode != 0
    lines = cli_lines(result.stderr)
    assert len(lines) == 1 and "cut.cxm" in lines[0]
    assert "Traceback" not in result.stderr


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
    assert len(cli_lines(captured.err)) == 1 and "tpu" in captured.err


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


def test_count_out_that_is_a_folder_is_refused_before_counting(tiny_model_file, rgb_image, tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu", "--out", str(folder)])
    captured = capsys.readouterr()
    assert code == 1
    assert str(folder) in one_error_line(captured.err) and "folder" in captured.err
    assert captured.out == ""  # nothing was counted


def test_count_out_inside_a_file_is_refused_before_counting(tiny_model_file, rgb_image, tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder is needed")
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--device", "cpu",
                 "--out", str(blocker / "sub" / "counts.csv")])
    captured = capsys.readouterr()
    assert code == 1
    assert str(blocker) in one_error_line(captured.err)
    assert captured.out == ""


def test_train_out_that_is_a_folder_is_refused_before_training(tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    code = main(["train", str(tmp_path / "nowhere"), "--out", str(folder), "--cell-diameter", "10"])
    assert code == 1
    assert "--out" in one_error_line(capsys.readouterr().err)


def test_explain_out_that_is_a_file_is_one_line(tiny_model_file, rgb_image, tmp_path, capsys):
    existing = tmp_path / "report"
    existing.write_text("keep me")
    code = main(["explain", str(rgb_image), "--out", str(existing), "--model", str(tiny_model_file),
                 "--device", "cpu"])
    assert code == 1
    assert str(existing) in one_error_line(capsys.readouterr().err)
    assert existing.read_text() == "keep me"


def test_an_image_over_the_pixel_limit_is_reported_and_the_others_still_count(tiny_model_file, tmp_path, monkeypatch,
                                                                             capsys):
    huge = small_png(tmp_path / "huge.png", size=(64, 64))
    small = small_png(tmp_path / "small.png", size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 64×64 is over twice the limit, 40×40 under it
    out = tmp_path / "counts.csv"
    code = main(["count", str(huge), str(small), "--model", str(tiny_model_file), "--device", "cpu",
                 "--cell-diameter", "as-is", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "huge.png" in one_error_line(captured.err) and "too large" in captured.err
    assert [line.split("\t")[0] for line in cli_lines(captured.out)] == [str(small)]
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
    assert "No space left" in one_error_line(capsys.readouterr().err)


def test_evaluate_on_an_empty_folder_is_one_line_and_fails(tiny_model_file, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["evaluate", str(empty), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    line = one_error_line(captured.err)
    assert str(empty) in line and "no image files" in line
    assert captured.out == ""


def test_evaluate_on_unannotated_images_names_what_it_found(tiny_model_file, tmp_path, capsys):
    folder = tmp_path / "plain"
    small_png(folder / "a.png")
    small_png(folder / "b.png", seed=1)
    (folder / "notes.txt").write_text("not an image")
    code = main(["evaluate", str(folder), "--model", str(tiny_model_file), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    line = one_error_line(captured.err)
    assert "no image has a dot annotation" in line
    assert "2 image(s) without a dot file, 1 other file(s)" in line
    assert captured.out == ""  # no "n=0 MAE nan"


def test_evaluate_samples_refuses_an_empty_list(tiny_model_file):
    from countxplain.errors import CountXplainError
    from countxplain.evaluation import evaluate_samples
    from countxplain.modelfile import load_model

    with pytest.raises(CountXplainError, match="no annotated images"):
        evaluate_samples(load_model(tiny_model_file), [], None)
