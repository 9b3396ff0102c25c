"""Inputs of ``countxplain count`` beyond files and folders: a quoted glob, an @FILE list of inputs, and an
OME-Zarr plate, whose fields are counted like the same pixels saved as a PNG and listed with their
plate, row, column and field."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from helpers import REPO_ROOT
from helpers.cli import cli_lines, one_error_line, run_cli, small_png

pytestmark = pytest.mark.usefixtures("one_torch_thread")

AS_IS = ("--cell-diameter", "as-is")


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def counted_files(result):
    assert result.returncode == 0, result.stderr
    return [line.split("\t")[0] for line in cli_lines(result.stdout)]


def test_a_quoted_glob_counts_the_files_it_matches(tmp_path, tiny_model_file):
    for name in ("a/1.png", "a/2.png", "b/3.png", "b/skip.jpg"):
        small_png(tmp_path / name)
    result = run_cli("count", str(tmp_path / "**" / "*.png"), "--model", tiny_model_file, *AS_IS)
    assert counted_files(result) == [str(tmp_path / name) for name in ("a/1.png", "a/2.png", "b/3.png")]


def test_a_glob_that_matches_nothing_is_one_line(tmp_path, tiny_model_file):
    result = run_cli("count", str(tmp_path / "*.tif"), "--model", tiny_model_file, *AS_IS)
    assert result.returncode == 1
    assert "no file matches this pattern" in one_error_line(result.stderr)


def test_a_list_file_names_inputs_relative_to_itself(tmp_path, tiny_model_file):
    small_png(tmp_path / "images" / "one.png")
    small_png(tmp_path / "images" / "more" / "two.png")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "todo.txt").write_text("# the run of Monday\n../images/one.png\n\n../images/more\n", encoding="utf-8")
    result = run_cli("count", f"@{lists / 'todo.txt'}", "--model", tiny_model_file, *AS_IS)
    assert [name.rsplit("/", 1)[-1] for name in counted_files(result)] == ["one.png", "two.png"]


def test_a_list_naming_a_missing_file_counts_the_rest_and_fails(tmp_path, tiny_model_file):
    small_png(tmp_path / "one.png")
    (tmp_path / "todo.txt").write_text("one.png\ngone.png\n", encoding="utf-8")
    result = run_cli("count", f"@{tmp_path / 'todo.txt'}", "--model", tiny_model_file, *AS_IS)
    assert result.returncode == 1
    assert "gone.png: file does not exist" in one_error_line(result.stderr)
    assert len(cli_lines(result.stdout)) == 1


def write_plate(path, pixels, wells=("A/1", "B/3"), fields=("0", "1")):
    """An OME-Zarr plate written by ome-zarr, every field holding ``pixels`` (H, W, 3) as channels c, y, x."""
    import zarr
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    root = zarr.open_group(str(path), mode="w")
    rows = sorted({well.split("/")[0] for well in wells})
    columns = sorted({well.split("/")[1] for well in wells})
    write_plate_metadata(root, rows, columns, list(wells))
    for well in wells:
        row, column = well.split("/")
        group = root.require_group(row).require_group(column)
        write_well_metadata(group, list(fields))
        for field in fields:
            write_image(np.moveaxis(pixels, -1, 0), group.require_group(field), axes="cyx", scale_factors=())
    return path


@pytest.fixture
def plate_and_png(tmp_path):
    pixels = np.asarray(Image.open(REPO_ROOT / "resources" / "samples" / "dsb2018-fluo-693bc645.png").convert("RGB"))
    crop = np.ascontiguousarray(pixels[:96, :128])
    png = tmp_path / "same.png"
    Image.fromarray(crop).save(png)
    return write_plate(tmp_path / "plate.zarr", crop), png


@pytest.mark.parametrize("engine", [(), ("--workers", "1")], ids=["local", "dask"])
def test_a_plate_counts_each_field_with_its_position(plate_and_png, tmp_path, tiny_model_file, engine):
    plate, png = plate_and_png
    out = tmp_path / "counts.csv"
    result = run_cli("count", plate, png, "--out", out, "--model", tiny_model_file, *AS_IS, *engine)
    assert result.returncode == 0, result.stderr
    rows = {row["file"]: row for row in csv_rows(out)}
    fields = {str(plate / well / field) for well in ("A/1", "B/3") for field in ("0", "1")}
    assert set(rows) == fields | {str(png)}
    assert [(rows[str(plate / "B/3/1")][key]) for key in ("plate", "row", "column", "field")] == \
        [str(plate), "B", "3", "1"]
    assert rows[str(png)]["plate"] == ""
    assert {rows[name]["count"] for name in fields} == {rows[str(png)]["count"]}


def test_resuming_a_plate_skips_its_counted_fields(plate_and_png, tmp_path, tiny_model_file):
    plate, png = plate_and_png
    out = tmp_path / "counts.csv"
    assert run_cli("count", plate, "--out", out, "--model", tiny_model_file, *AS_IS).returncode == 0
    result = run_cli("count", plate, png, "--out", out, "--resume", "--model", tiny_model_file, *AS_IS)
    assert counted_files(result) == [str(png)]
    assert "4 image(s) already in" in result.stderr
    assert len(csv_rows(out)) == 5
