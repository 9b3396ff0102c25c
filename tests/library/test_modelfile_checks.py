"""Model files that pass the format's checksums and still mislead: implausible numbers, extra or
oversized archive parts. Each is refused at load, in the program's own words, before it is used."""

from __future__ import annotations

import math
import zipfile

import pytest
import torch

from countxplain import modelfile_checks
from countxplain.errors import ModelFileError
from countxplain.modelfile import load_model, read_payload

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def payload(tiny_model_file):
    return read_payload(tiny_model_file)


def _write(path, payload):
    torch.save(payload, path)
    return path


def _refused(path, *words) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    reason = info.value.reason
    assert path.name in str(info.value) and "\n" not in str(info.value)
    assert "torch" not in reason.lower() and "could this error message" not in reason.lower()
    for word in words:
        assert word.lower() in reason.lower(), (word, reason)
    return info.value


def _size_model(n: int = 6) -> dict:
    return {"kind": "ridge-on-frontend-pooling", "max_side": 384, "mean": [0.0] * n, "scale": [1.0] * n,
            "weights": [0.1] * n, "bias": math.log(20.0), "frontend_modules": 17}


@pytest.mark.parametrize("diameter", [1e6, 1e-6, 1.9, 501])
def test_a_cell_diameter_outside_the_plausible_range_is_refused(payload, tmp_path, diameter):
    bad = dict(payload, preprocessing={"cell_diameter_px": diameter})
    _refused(_write(tmp_path / "d.cxm", bad), "cell_diameter_px", "plausible range", "2-500")


@pytest.mark.parametrize("diameter", [2.0, 10, 500.0])
def test_diameters_inside_the_range_load(payload, tmp_path, diameter):
    good = dict(payload, preprocessing={"cell_diameter_px": diameter, "sigma_px": 4.0, "size_model": _size_model()})
    assert load_model(_write(tmp_path / "ok.cxm", good)).cell_diameter_px == diameter


@pytest.mark.parametrize("factor", [0.0, -1.0, 100.0, float("nan"), "0.5"])
def test_an_implausible_count_scale_is_refused(payload, tmp_path, factor):
    bad = dict(payload, preprocessing={"cell_diameter_px": 10.0, "native_scale": True, "count_scale": factor})
    _refused(_write(tmp_path / "c.cxm", bad), "count_scale")


@pytest.mark.parametrize("sigma", [1e9, 1e-9, float("nan"), "4"])
def test_an_implausible_density_sigma_is_refused(payload, tmp_path, sigma):
    bad = dict(payload, preprocessing={"cell_diameter_px": 10.0, "sigma_px": sigma})
    _refused(_write(tmp_path / "s.cxm", bad), "sigma_px")


@pytest.mark.parametrize("change, word", [
    ({"bias": math.log(1e6)}, "bias"), ({"bias": float("nan")}, "bias"),
    ({"weights": [0.1] * 5}, "length"), ({"scale": [0.0] * 6}, "scale"),
    ({"mean": [float("inf")] * 6}, "finite"), ({"weights": "many"}, "lists"),
    ({"frontend_modules": 10 ** 6}, "frontend_modules"), ({"frontend_modules": True}, "frontend_modules"),
])
def test_a_damaged_cell_size_estimator_is_refused(payload, tmp_path, change, word):
    bad = dict(payload, preprocessing={"cell_diameter_px": 10.0, "size_model": {**_size_model(), **change}})
    _refused(_write(tmp_path / "e.cxm", bad), "cell-size estimator", word)


def test_the_shipped_model_passes_every_check(shipped_model_path):
    assert load_model(shipped_model_path).preprocessing["size_model"]


def _with_member(source, target, name, data=b"", size=None):
    """A copy of ``source`` with one more archive part (its CRC correct), written after the others."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as new:
        for member in old.infolist():
            new.writestr(member, old.read(member))
        if size is None:
            new.writestr(name, data)
        else:
            with new.open(zipfile.ZipInfo(name), "w", force_zip64=True) as part:
                part.write(b"\0" * size)
    return target


def _top(path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()[0].split("/")[0]


@pytest.mark.parametrize("part", ["notes.txt", "data/extra.bin", "../escape", "data/7/../../x"])
def test_an_archive_part_the_format_does_not_name_is_refused(tiny_model_file, tmp_path, part):
    path = _with_member(tiny_model_file, tmp_path / "m.cxm", f"{_top(tiny_model_file)}/{part}", b"hello")
    _refused(path, "part the model format does not name")


def test_a_part_of_another_saved_object_is_refused(tiny_model_file, tmp_path):
    path = _with_member(tiny_model_file, tmp_path / "m.cxm", "other/data.pkl", b"x")
    _refused(path, "more than one saved object")


def test_an_oversized_record_is_refused_from_the_directory(tiny_model_file, tmp_path, monkeypatch):
    path = _with_member(tiny_model_file, tmp_path / "m.cxm", f"{_top(tiny_model_file)}/.data/version", size=4096)
    monkeypatch.setattr(zipfile.ZipFile, "testzip", _must_not_decompress)
    _refused(path, "declares 4,096 bytes", "refused unread")


def test_tensor_parts_beyond_any_model_are_refused_unread(tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.setattr(modelfile_checks, "MAX_TENSOR_BYTES", 2 ** 20)
    path = _with_member(tiny_model_file, tmp_path / "m.cxm", f"{_top(tiny_model_file)}/data/9999", size=2 ** 20)
    monkeypatch.setattr(zipfile.ZipFile, "testzip", _must_not_decompress)
    _refused(path, "bytes of tensors", "refused unread")


def test_a_stored_part_no_tensor_uses_is_refused(tiny_model_file, tmp_path):
    path = _with_member(tiny_model_file, tmp_path / "m.cxm", f"{_top(tiny_model_file)}/data/9999", b"\0" * 4096)
    _refused(path, "4,096 bytes that none of its tensors use")


def test_a_tensor_part_made_longer_is_refused(tiny_model_file, tmp_path):
    target = tmp_path / "long.cxm"
    top = _top(tiny_model_file)
    with zipfile.ZipFile(tiny_model_file) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as new:
        for member in old.infolist():
            data = old.read(member)
            new.writestr(member, data + b"\0" * 64 if member.filename == f"{top}/data/0" else data)
    reason = _refused(target).reason  # torch itself checks a storage's length against its tensor
    assert "none of its tensors use" in reason or "do not unpack" in reason


def _must_not_decompress(self):
    raise AssertionError("the archive was decompressed before its directory was checked")
