"""The annotation model of the app (Qt-free): undo/redo, eraser strokes, and a sidecar that survives
a write interrupted at any point."""

from __future__ import annotations

import os

import numpy as np
import pytest

from countxplain.annotations import read_dots
from countxplain.datasets import sidecar_path
from cxdesktop.dots import DotAnnotation, count_sidecar_dots


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "cells.png"
    path.write_bytes(b"")  # the annotation never reads the image itself
    return path


def saved(image) -> np.ndarray:
    return read_dots(sidecar_path(image))


def test_every_change_is_saved_and_undoable(image):
    a = DotAnnotation.open(image)
    assert len(a) == 0 and not sidecar_path(image).exists() and not a.can_undo()
    assert a.add(10, 12) and a.add(30.5, 40.25)
    np.testing.assert_allclose(saved(image), [[10, 12], [30.5, 40.25]])
    assert a.remove_near(29, 41, radius=3)
    np.testing.assert_allclose(saved(image), [[10, 12]])
    assert not a.remove_near(80, 80, radius=3)  # nothing near: no change, no undo step
    a.undo()
    np.testing.assert_allclose(saved(image), [[10, 12], [30.5, 40.25]])
    a.undo()
    np.testing.assert_allclose(saved(image), [[10, 12]])
    a.redo()
    assert len(saved(image)) == 2 and a.can_redo()
    a.add(1, 1)
    assert not a.can_redo()  # a new change drops the redo history


def test_an_eraser_stroke_is_one_undo_step_and_one_write(image, monkeypatch):
    a = DotAnnotation(image, [[10, 10], [20, 10], [30, 10], [50, 50]])
    writes = []
    import cxdesktop.dots

    real = cxdesktop.dots.write_dots_csv
    monkeypatch.setattr(cxdesktop.dots, "write_dots_csv",
                        lambda path, dots, *rest: (writes.append(len(dots)), real(path, dots, *rest)))
    a.begin_stroke()
    for x in (8, 15, 22, 31):
        a.erase(x, 10, radius=4)
    assert len(a) == 1 and writes == []
    a.end_stroke()
    assert writes == [1]
    a.undo()
    assert len(a) == 4


def test_reopening_restores_the_sidecar(image):
    DotAnnotation.open(image).replace([[1, 2], [3, 4]])
    again = DotAnnotation.open(image)
    np.testing.assert_allclose(again.dots, [[1, 2], [3, 4]])
    assert count_sidecar_dots(image) == 2


def test_a_corrupt_sidecar_is_reported_and_left_alone(image):
    sidecar_path(image).write_text("not,a,dot,file\n")
    a = DotAnnotation.open(image)
    assert len(a) == 0 and "header" in a.load_error
    assert sidecar_path(image).read_text() == "not,a,dot,file\n"
    assert count_sidecar_dots(image) is None


@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_a_write_interrupted_anywhere_leaves_the_previous_sidecar_intact(image, monkeypatch, where):
    a = DotAnnotation.open(image)
    a.replace([[5, 5], [6, 6]])
    before = sidecar_path(image).read_bytes()

    class Killed(BaseException):
        """Stands for the process being killed mid-write (not an OSError: nothing catches it)."""

    def die(*args, **kwargs):
        raise Killed()

    import countxplain.annotations

    if where == "replace":
        monkeypatch.setattr(countxplain.annotations.os, "replace", die)
    elif where == "fsync":
        monkeypatch.setattr(countxplain.annotations.os, "fsync", die)
    else:  # half the bytes reach the temporary file, then the process dies
        real_fdopen = os.fdopen

        class HalfWritten:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                die()

        monkeypatch.setattr(countxplain.annotations.os, "fdopen", lambda fd, mode: HalfWritten(real_fdopen(fd, mode)))
    with pytest.raises(Killed):
        a.add(7, 7)
    monkeypatch.undo()
    assert sidecar_path(image).read_bytes() == before
    assert sorted(os.listdir(image.parent)) == sorted([image.name, sidecar_path(image).name])  # no temp file left
    np.testing.assert_allclose(DotAnnotation.open(image).dots, [[5, 5], [6, 6]])


def test_a_refused_write_keeps_the_change_in_memory_and_says_why(image, monkeypatch):
    a = DotAnnotation.open(image)
    a.add(1, 1)
    import countxplain.annotations

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(countxplain.annotations.os, "replace", refuse)
    assert not a.add(2, 2)
    assert "Permission denied" in a.save_error and len(a) == 2
    assert len(saved(image)) == 1
    monkeypatch.undo()
    assert a.add(3, 3) and a.save_error is None
    assert len(saved(image)) == 3


def test_an_unreadable_sidecar_is_kept_byte_for_byte_before_the_first_change_replaces_it(image):
    good = "".join(f"{i % 50},{i // 50}\n" for i in range(299))
    original = ("x,y\n" + good + "12,abc\n").encode()
    sidecar_path(image).write_bytes(original)
    a = DotAnnotation.open(image)
    assert len(a) == 0 and a.load_error and a.notice is None
    assert a.add(5, 5)
    kept = [p for p in image.parent.iterdir() if ".dots.unreadable-" in p.name]
    assert len(kept) == 1 and kept[0].name.startswith("cells.dots.unreadable-") and kept[0].suffix == ".csv"
    assert kept[0].read_bytes() == original
    np.testing.assert_allclose(saved(image), [[5, 5]])
    assert a.load_error is None and a.kept_copy == kept[0]
    assert kept[0].name in a.notice and "could not be read" in a.notice
    assert a.add(6, 6) and len(list(image.parent.glob("*.unreadable-*"))) == 1  # copied once, not at every change


def test_the_copy_of_an_unreadable_sidecar_never_replaces_an_earlier_copy(image, monkeypatch):
    import cxdesktop.dots

    monkeypatch.setattr(cxdesktop.dots.time, "strftime", lambda fmt: "20250102-030405")
    earlier = image.parent / "cells.dots.unreadable-20250102-030405.csv"
    earlier.write_bytes(b"an earlier copy\n")
    sidecar_path(image).write_bytes(b"x,y\n12,abc\n")
    a = DotAnnotation.open(image)
    assert a.add(5, 5)
    assert earlier.read_bytes() == b"an earlier copy\n"
    assert a.kept_copy.name == "cells.dots.unreadable-20250102-030405-2.csv"
    assert a.kept_copy.read_bytes() == b"x,y\n12,abc\n"


def test_an_unreadable_sidecar_that_cannot_be_copied_aside_is_not_overwritten(image, monkeypatch):
    sidecar_path(image).write_bytes(b"x,y\n12,abc\n")
    a = DotAnnotation.open(image)
    import cxdesktop.dots

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cxdesktop.dots, "open", refuse, raising=False)
    assert not a.add(5, 5)
    assert "Permission denied" in a.save_error and "not saved" in a.save_error and len(a) == 1
    assert sidecar_path(image).read_bytes() == b"x,y\n12,abc\n"
    assert sorted(os.listdir(image.parent)) == sorted([image.name, sidecar_path(image).name])
    monkeypatch.undo()
    assert a.add(6, 6) and a.kept_copy.read_bytes() == b"x,y\n12,abc\n"
    np.testing.assert_allclose(saved(image), [[5, 5], [6, 6]])


def test_twin_images_keep_their_dots_in_separate_sidecars(tmp_path):
    png, tif = tmp_path / "twin.png", tmp_path / "twin.tif"
    png.write_bytes(b"")
    tif.write_bytes(b"")
    DotAnnotation.open(png).replace([[1, 1]])
    DotAnnotation.open(tif).replace([[2, 2], [3, 3]])
    np.testing.assert_allclose(DotAnnotation.open(png).dots, [[1, 1]])
    np.testing.assert_allclose(DotAnnotation.open(tif).dots, [[2, 2], [3, 3]])
    assert {p.name for p in tmp_path.glob("*.dots.csv")} == {"twin.png.dots.csv", "twin.tif.dots.csv"}
    assert count_sidecar_dots(png) == 1 and count_sidecar_dots(tif) == 2


def test_the_sidecar_twins_once_shared_is_pointed_out_and_left_alone(tmp_path):
    png, tif = tmp_path / "twin.png", tmp_path / "twin.tif"
    png.write_bytes(b"")
    tif.write_bytes(b"")
    (tmp_path / "twin.dots.csv").write_text("x,y\n1,1\n")
    a = DotAnnotation.open(png)
    assert len(a) == 0 and "twin.dots.csv" in a.notice and "twin.png and twin.tif" in a.notice
    a.add(4, 4)
    assert a.notice is None  # the image has its own file now
    assert (tmp_path / "twin.dots.csv").read_text() == "x,y\n1,1\n"
