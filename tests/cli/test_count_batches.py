"""A batch is never lost: ``countxplain count --out`` writes each row as its image is counted, a run
killed mid-batch leaves a valid CSV of the rows done, and ``--resume`` counts only the rest."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys

import pytest

from countxplain.cli import main
from countxplain.counts_csv import COLUMNS, CountsCsv, file_cell
from helpers import REPO_ROOT
from helpers.cli import cli_lines, one_error_line, run_cli, small_png

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def read_csv(path):
    """The rows of a counts CSV, checked whole: the header, every field of every row, each count a number."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert tuple(next(reader)) == COLUMNS
        rows = [row for row in reader]
    for row in rows:
        assert len(row) == len(COLUMNS), row
        float(row[1]), float(row[3]), float(row[5]), float(row[7])
    return [dict(zip(COLUMNS, row)) for row in rows]


def count_until_killed(args, rows_before_kill):
    """Start ``countxplain count``, kill it with SIGKILL once it has printed ``rows_before_kill`` counts."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "countxplain.cli", "count", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    printed = []
    try:
        while len(printed) < rows_before_kill:
            line = process.stdout.readline()
            assert line, f"ended before {rows_before_kill} counts: {process.stderr.read()}"
            printed.append(line.split("\t")[0])
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(60)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    return printed


def test_a_batch_killed_twice_leaves_valid_csvs_and_resuming_counts_each_image_once(tiny_model_file, tmp_path):
    samples = sorted((REPO_ROOT / "resources" / "samples").glob("*.png"))
    images = []
    for copy in range(3):
        for source in samples:
            images.append(tmp_path / "images" / f"{copy}-{source.name}")
            images[-1].parent.mkdir(exist_ok=True)
            shutil.copy(source, images[-1])
    out = tmp_path / "counts.csv"
    args = [tmp_path / "images", "--model", tiny_model_file, "--device", "cpu", "--out", out]

    first = count_until_killed(args, 2)
    rows = read_csv(out)
    assert 2 <= len(rows) < len(images)
    assert [row["file"] for row in rows] == [str(path) for path in sorted(images)[:len(rows)]]
    assert first == [row["file"] for row in rows][:2]

    second = count_until_killed(args + ["--resume"], 2)
    resumed_rows = read_csv(out)
    assert resumed_rows[:len(rows)] == rows  # the rows of the first run kept as they were
    assert not set(second) & {row["file"] for row in rows}
    assert len(resumed_rows) < len(images)

    result = run_cli("count", *args, "--resume")
    assert result.returncode == 0, result.stderr
    assert f"{len(resumed_rows)} image(s) already in" in result.stderr
    final = read_csv(out)
    assert sorted(row["file"] for row in final) == sorted(str(path) for path in images)
    assert final[:len(resumed_rows)] == resumed_rows
    assert len(cli_lines(result.stdout)) == len(images) - len(resumed_rows)


def test_the_csv_holds_each_row_as_its_image_finishes_and_is_replaced_only_once(tiny_model_file, tmp_path,
                                                                                 monkeypatch, capsys):
    from countxplain import annotations, counts_csv

    images = [small_png(tmp_path / f"{i}.png", seed=i) for i in range(3)]
    out = tmp_path / "counts.csv"
    seen, replaced = [], []
    add, atomic = counts_csv.CountsCsv.add, annotations.atomic_write_bytes

    def add_and_look(self, row):
        add(self, row)
        seen.append([r["file"] for r in read_csv(out)])

    def atomic_and_note(path, data):
        replaced.append(path)
        atomic(path, data)

    monkeypatch.setattr(counts_csv.CountsCsv, "add", add_and_look)
    monkeypatch.setattr(annotations, "atomic_write_bytes", atomic_and_note)
    assert main(["count", *map(str, images), "--model", str(tiny_model_file), "--device", "cpu",
                 "--out", str(out)]) == 0
    assert seen == [[str(p) for p in images[:n]] for n in (1, 2, 3)]
    assert replaced == [out]  # the header once; rows are appended, not the whole table rewritten per row


def test_resume_drops_a_last_row_cut_short_and_counts_that_image_again(tiny_model_file, tmp_path, capsys):
    a, b = (small_png(tmp_path / f"{name}.png", seed=i) for i, name in enumerate("ab"))
    out = tmp_path / "counts.csv"
    common = ["--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)]
    assert main(["count", str(a), str(b), *common]) == 0
    whole = out.read_bytes()
    out.write_bytes(whole[:whole.rindex(str(b).encode()) + len(str(b)) + 3])  # b's row cut mid-way
    capsys.readouterr()
    assert main(["count", str(a), str(b), *common, "--resume"]) == 0
    assert [line.split("\t")[0] for line in cli_lines(capsys.readouterr().out)] == [str(b)]
    rows = read_csv(out)
    assert [r["file"] for r in rows] == [str(a), str(b)] and out.read_bytes().endswith(b"\n")


def test_resume_keeps_rows_of_images_not_in_this_run_and_counts_what_is_new(tiny_model_file, tmp_path, capsys):
    a, b, c = (small_png(tmp_path / f"{name}.png", seed=i) for i, name in enumerate("abc"))
    out = tmp_path / "counts.csv"
    common = ["--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)]
    assert main(["count", str(a), str(b), *common]) == 0
    before = read_csv(out)
    capsys.readouterr()
    assert main(["count", str(b), str(c), *common, "--resume"]) == 0
    captured = capsys.readouterr()
    assert [line.split("\t")[0] for line in cli_lines(captured.out)] == [str(c)]
    assert "1 image(s) already in" in captured.err
    after = read_csv(out)
    assert after[:2] == before
    assert [row["file"] for row in after] == [str(a), str(b), str(c)]


def test_resume_finds_an_image_named_another_way(tiny_model_file, tmp_path, monkeypatch, capsys):
    image = small_png(tmp_path / "sub" / "cell.png")
    out = tmp_path / "counts.csv"
    common = ["--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)]
    assert main(["count", str(image), *common]) == 0
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["count", os.path.join("sub", "..", "sub", "cell.png"), *common, "--resume"]) == 0
    assert cli_lines(capsys.readouterr().out) == []
    assert len(read_csv(out)) == 1


def test_without_resume_the_old_csv_is_replaced(tiny_model_file, tmp_path, capsys):
    a, b = small_png(tmp_path / "a.png"), small_png(tmp_path / "b.png", seed=1)
    out = tmp_path / "counts.csv"
    common = ["--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)]
    assert main(["count", str(a), *common]) == 0
    assert main(["count", str(b), *common]) == 0
    assert [row["file"] for row in read_csv(out)] == [str(b)]


def test_an_image_named_twice_is_counted_once(tiny_model_file, tmp_path, capsys):
    image = small_png(tmp_path / "cells" / "one.png")
    out = tmp_path / "counts.csv"
    assert main(["count", str(image), str(tmp_path / "cells"), str(image), "--model", str(tiny_model_file),
                 "--device", "cpu", "--out", str(out)]) == 0
    assert [row["file"] for row in read_csv(out)] == [str(image)]


def test_resume_refuses_a_file_that_is_not_a_counts_csv_and_leaves_it(tiny_model_file, rgb_image, tmp_path, capsys):
    out = tmp_path / "counts.csv"
    out.write_text("x,y\n1,2\n")
    code = main(["count", str(rgb_image), "--model", str(tiny_model_file), "--out", str(out), "--resume"])
    assert code == 1
    line = one_error_line(capsys.readouterr().err)
    assert str(out) in line and "columns" in line and "--resume" in line
    assert out.read_text() == "x,y\n1,2\n"


def test_resume_refuses_a_row_of_the_wrong_length(tiny_model_file, rgb_image, tmp_path, capsys):
    out = tmp_path / "counts.csv"
    out.write_text(",".join(COLUMNS) + "\r\n" + "a.png,1.0\r\n")
    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--out", str(out), "--resume"]) == 1
    assert "line 2 has 2 fields" in one_error_line(capsys.readouterr().err)


def test_resume_needs_out(tiny_model_file, rgb_image, capsys):
    assert main(["count", str(rgb_image), "--model", str(tiny_model_file), "--resume"]) == 1
    assert "--resume needs --out" in one_error_line(capsys.readouterr().err)


def test_resume_with_every_image_done_counts_nothing_and_succeeds(tiny_model_file, rgb_image, tmp_path, capsys):
    out = tmp_path / "counts.csv"
    common = ["--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)]
    assert main(["count", str(rgb_image), *common]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["count", str(rgb_image), *common, "--resume"]) == 0
    assert cli_lines(capsys.readouterr().out) == []
    assert out.read_bytes() == before


def test_odd_file_names_round_trip_through_the_csv(tmp_path):
    names = [tmp_path / "new\nline.png", tmp_path / os.fsdecode(b"caf\xe9.png"), tmp_path / 'comma, "quote".png']
    out = tmp_path / "counts.csv"
    table = CountsCsv(out)
    for name in names:
        table.add({"file": name, **{column: "1.0" for column in COLUMNS[1:]}})
    out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    assert [row["file"] for row in read_csv(out)] == [file_cell(name) for name in names]
    again = CountsCsv(out, resume=True)
    assert all(again.counted(name) for name in names)
    assert not again.counted(tmp_path / "other.png")
    assert again.row_count == 3


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    out = tmp_path / "counts.csv"
    stale = tmp_path / ".counts.csv.abcd1234.tmp"
    stale.write_text("half a ro")
    unrelated = tmp_path / ".other.csv.abcd1234.tmp"
    unrelated.write_text("not ours")
    CountsCsv(out).finish()
    assert not stale.exists() and unrelated.exists()
    assert read_csv(out) == []


def test_a_resumed_run_interrupted_before_its_rename_leaves_the_previous_csv(tiny_model_file, tmp_path, monkeypatch,
                                                                             capsys):
    from countxplain import annotations

    images = [small_png(tmp_path / f"{i}.png", seed=i) for i in range(3)]
    out = tmp_path / "counts.csv"
    common = ["--model", str(tiny_model_file), "--device", "cpu", "--out", str(out)]
    assert main(["count", str(images[0]), *common]) == 0
    before = out.read_bytes()

    def interrupted_rename(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(annotations.os, "replace", interrupted_rename)
    assert main(["count", *map(str, images), *common, "--resume"]) == 130
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
