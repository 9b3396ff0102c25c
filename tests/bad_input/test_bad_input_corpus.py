"""The whole bad-input corpus (``tests/helpers/bad_inputs/``) through one ``countxplain count`` run with
the bundled model: each bad file one stderr line naming it, each odd but readable one counted, the good images
of the same batch counted, no traceback, a non-zero exit status; and the corpus table in docs/bad-inputs.md."""

from __future__ import annotations

import csv
import shutil

import pytest

from countxplain.counts_csv import file_cell
from countxplain.errors import shown_path
from helpers import REPO_ROOT
from helpers.bad_inputs.corpus import CASES, make_corpus
from helpers.bad_inputs.document import markdown_table
from helpers.cli import cli_lines, run_cli

GOOD = sorted((REPO_ROOT / "resources" / "samples").glob("*.png"))[:2]


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory, shipped_model_path):
    root = tmp_path_factory.mktemp("corpus")
    made = make_corpus(root / "corpus")
    good = []
    for source in GOOD:
        good.append(root / "good" / source.name)
        good[-1].parent.mkdir(exist_ok=True)
        shutil.copy(source, good[-1])
    named = [path for item, path in made if item.named]
    out = root / "counts.csv"
    result = run_cli("count", root / "corpus", *named, *good, "--model", shipped_model_path, "--device", "cpu",
                     "--out", out)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return made, good, result, rows


def test_the_corpus_is_large_and_covers_every_outcome():
    assert len(CASES) >= 60
    assert len({item.name for item in CASES}) == len(CASES)
    assert {item.expect for item in CASES} == {"refused", "counted", "ignored"}
    assert all(item.words for item in CASES if item.group == "bomb")


def test_no_traceback_and_a_failing_exit_status(corpus_run):
    _, _, result, _ = corpus_run
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert all(line.startswith("error: ") for line in cli_lines(result.stderr)), result.stderr
    assert "Warning" not in result.stderr and "<tifffile" not in result.stderr


def test_every_stderr_line_is_one_refusal_of_one_file(corpus_run):
    made, _, result, _ = corpus_run
    lines = cli_lines(result.stderr)
    refused = [path for item, path in made if item.expect == "refused"]
    assert len(lines) == len(refused), result.stderr
    for path in refused:
        naming = [line for line in lines if line.startswith(f"error: {shown_path(path)}: ")]
        assert len(naming) == 1, (path, result.stderr)


@pytest.mark.parametrize("item", [c for c in CASES if c.expect == "refused"], ids=lambda c: repr(c.name))
def test_a_refused_file_gets_its_reason(corpus_run, item):
    made, _, result, rows = corpus_run
    path = dict((c.name, p) for c, p in made)[item.name]
    line = next(line for line in cli_lines(result.stderr) if line.startswith(f"error: {shown_path(path)}: "))
    assert item.words in line
    assert file_cell(path) not in [row["file"] for row in rows]


@pytest.mark.parametrize("item", [c for c in CASES if c.expect != "refused"], ids=lambda c: repr(c.name))
def test_a_readable_odd_file_is_counted_and_an_ignored_one_passed_by(corpus_run, item):
    made, _, result, rows = corpus_run
    path = dict((c.name, p) for c, p in made)[item.name]
    printed = [line for line in cli_lines(result.stdout) if line.startswith(f"{shown_path(path)}\t")]
    in_csv = [row for row in rows if row["file"] == file_cell(path)]
    if item.expect == "counted":
        assert len(printed) == 1 and len(in_csv) == 1, result.stdout
        assert float(in_csv[0]["count"]) == pytest.approx(float(printed[0].split("\t")[1]), abs=0.06)
    else:
        assert not printed and not in_csv
        assert shown_path(path) not in result.stderr


def test_the_good_images_of_the_batch_are_counted(corpus_run):
    made, good, result, rows = corpus_run
    for path in good:
        assert [row["file"] for row in rows].count(str(path)) == 1
        assert sum(line.startswith(f"{path}\t") for line in cli_lines(result.stdout)) == 1
    assert len(rows) == len(cli_lines(result.stdout)) == len(good) + sum(c.expect == "counted" for c, _ in made)


def test_the_docs_table_is_the_generators():
    document = (REPO_ROOT / "docs" / "bad-inputs.md").read_text(encoding="utf-8")
    assert markdown_table() in document, "regenerate it: PYTHONPATH=tests python -m helpers.bad_inputs --write"
