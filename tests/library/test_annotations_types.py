"""Counter types in dot files: ``x,y,type`` written and read back, older ``x,y`` files still read (one
default type), and ``read_dots`` still an (N, 2) array for training whatever the file holds."""

from __future__ import annotations

import numpy as np
import pytest

from countxplain.annotations import DEFAULT_DOT_TYPE, read_dot_types, read_dots, write_dots_csv


def test_types_are_written_in_a_type_column_and_read_back(tmp_path):
    path = tmp_path / "cells.dots.csv"
    write_dots_csv(path, [[1, 2], [3.5, 4], [5, 6]], ["cell", "mitotic, late", "cell"])
    assert path.read_text().splitlines()[:3] == ["x,y,type", "1.00,2.00,cell", '3.50,4.00,"mitotic, late"']
    dots, types = read_dot_types(path)
    np.testing.assert_allclose(dots, [[1, 2], [3.5, 4], [5, 6]])
    assert types == ["cell", "mitotic, late", "cell"]
    training = read_dots(path)
    assert training.shape == (3, 2) and training.dtype == np.float64


def test_an_x_y_file_reads_as_one_default_type(tmp_path):
    path = tmp_path / "old.dots.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    dots, types = read_dot_types(path)
    assert dots.shape == (2, 2) and types == [DEFAULT_DOT_TYPE, DEFAULT_DOT_TYPE]
    write_dots_csv(path, dots)  # without types the file stays x,y
    assert path.read_text().splitlines()[0] == "x,y"


def test_a_blank_or_missing_type_cell_is_the_default_type(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("x,y,type\n1,2,\n3,4\n5,6, dead \n")
    assert read_dot_types(path)[1] == [DEFAULT_DOT_TYPE, DEFAULT_DOT_TYPE, "dead"]


def test_dot_mask_images_are_one_default_type(tmp_path):
    from PIL import Image

    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[2, 3] = mask[5, 6] = 255
    path = tmp_path / "mask.png"
    Image.fromarray(mask).save(path)
    dots, types = read_dot_types(path)
    assert len(dots) == 2 and types == [DEFAULT_DOT_TYPE] * 2


def test_types_and_dots_must_match_in_number(tmp_path):
    with pytest.raises(ValueError):
        write_dots_csv(tmp_path / "x.csv", [[1, 2]], ["a", "b"])
    assert not (tmp_path / "x.csv").exists()


def test_bad_coordinates_are_refused_as_before_with_a_type_column(tmp_path):
    from countxplain.errors import AnnotationError

    path = tmp_path / "bad.csv"
    path.write_text("x,y,type\n1,2,cell\nfive,6,cell\n")
    with pytest.raises(AnnotationError, match="line 3"):
        read_dot_types(path)
