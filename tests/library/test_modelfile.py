"""The model file: round trips, and refusing every kind of bad file without executing it."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from countxplain import annotations, modelfile
from countxplain.errors import ModelFileError
from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import FORMAT_NAME, FORMAT_VERSION, load_model, read_payload, save_model
from helpers.model_files import with_weight_byte_flipped

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def payload(tiny_model_file):
    return read_payload(tiny_model_file)


def _write(path, payload, **kwargs):
    torch.save(payload, path, **kwargs)
    return path


def _refused(path, *words) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    error = info.value
    assert path.name in str(error)
    assert "\n" not in str(error)
    for word in words:
        assert word.lower() in error.reason.lower(), (word, error.reason)
    return error


# --- round trips -----------------------------------------------------------------------------------

def test_round_trip_keeps_everything(tiny_model_file, tmp_path):
    original = load_model(tiny_model_file)
    assert original.path == tiny_model_file
    assert original.name == "tiny test model"
    assert original.cell_diameter_px == 10.0
    assert not original.network.training
    copy_path = save_model(original, tmp_path / "copy.cxm")
    copy = load_model(copy_path)
    assert copy.config == original.config
    a, b = original.network.state_dict(), copy.network.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert copy.preprocessing == original.preprocessing
    assert copy.provenance == original.provenance
    assert torch.equal(copy.gallery.patches, original.gallery.patches)
    assert torch.equal(copy.gallery.similarity, original.gallery.similarity)
    assert copy.gallery.sources == original.gallery.sources
    assert copy.gallery.patches.shape == (4, 3, 48, 48, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["copy.cxm"]


def test_round_trip_without_gallery(tiny_model_file, tmp_path):
    bundle = load_model(tiny_model_file)
    bundle.gallery = None
    bundle.provenance = {}
    copy = load_model(save_model(bundle, tmp_path / "nogallery.cxm"))
    assert copy.gallery is None
    assert copy.name == "nogallery"


def test_half_precision_file(tiny_model_file, tmp_path, rgb_image):
    full = load_model(tiny_model_file)
    half_path = save_model(full, tmp_path / "half.cxm", half=True)
    assert half_path.stat().st_size < 0.6 * tiny_model_file.stat().st_size
    stored = read_payload(half_path)["state_dict"]
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point())
    half = load_model(half_path)
    for key, value in full.network.state_dict().items():
        loaded = half.network.state_dict()[key]
        assert loaded.dtype == torch.float32
        torch.testing.assert_close(loaded, value.half().float())
    pixels = read_image(rgb_image).pixels
    full_count = Counter(full, device="cpu").count(pixels).count
    half_count = Counter(half, device="cpu").count(pixels).count
    assert full_count > 0
    assert abs(half_count - full_count) <= 0.005 * abs(full_count)


def test_loaded_model_keeps_the_default_preprocessing_keys(payload, tmp_path):
    changed = dict(payload, preprocessing={"cell_diameter_px": 23.5})
    bundle = load_model(_write(tmp_path / "m.cxm", changed))
    assert bundle.cell_diameter_px == 23.5
    assert "intensity" in bundle.preprocessing
    assert load_model(_write(tmp_path / "f.cxm", dict(payload, preprocessing={"fit_to_stride": True}))
                      ).preprocessing["fit_to_stride"] is True


# --- refused files -----------------------------------------------------------------------------------

def test_truncated_file(tiny_model_file, tmp_path):
    data = tiny_model_file.read_bytes()
    for name, cut in (("half.cxm", len(data) // 2), ("end.cxm", len(data) - 100), ("head.cxm", 10)):
        path = tmp_path / name
        path.write_bytes(data[:cut])
        _refused(path)


def test_a_changed_byte_in_the_shipped_weights_is_refused_by_its_checksum(shipped_model_path, tmp_path):
    damaged, part = with_weight_byte_flipped(shipped_model_path.read_bytes())
    path = tmp_path / "flipped.cxm"
    path.write_bytes(damaged)
    # torch reads the changed file without complaint, with one weight changed
    original = torch.load(shipped_model_path, weights_only=True)["state_dict"]
    changed = torch.load(path, weights_only=True)["state_dict"]
    assert [key for key in original if not torch.equal(original[key], changed[key])]
    error = _refused(path, "damaged", "checksum")
    assert part in str(error)


def test_wrong_version(payload, tmp_path):
    error = _refused(_write(tmp_path / "v.cxm", dict(payload, version=FORMAT_VERSION + 1)), "version")
    assert str(FORMAT_VERSION + 1) in error.reason


def test_wrong_format_header(payload, tmp_path):
    _refused(_write(tmp_path / "f.cxm", dict(payload, format="some-other-model")), "countxplain-model")
    no_header = {k: v for k, v in payload.items() if k != "format"}
    _refused(_write(tmp_path / "nf.cxm", no_header), "countxplain-model")
    _refused(_write(tmp_path / "list.cxm", [1, 2, 3]), "countxplain-model")
    _refused(_write(tmp_path / "plain.cxm", {"state_dict": payload["state_dict"]}), "countxplain-model")


def test_mismatched_shapes(payload, tmp_path):
    state = dict(payload["state_dict"])
    state["head.prototypes"] = torch.zeros(4, 8)
    error = _refused(_write(tmp_path / "s.cxm", dict(payload, state_dict=state)), "head.prototypes", "shape")
    assert "(4, 8)" in error.reason and "(4, 16)" in error.reason
    # a config that does not fit the weights
    config = dict(payload["config"], prototype_dim=32)
    _refused(_write(tmp_path / "c.cxm", dict(payload, config=config)), "shape")


def test_missing_and_extra_weights(payload, tmp_path):
    state = {k: v for k, v in payload["state_dict"].items() if k != "extractor.backend.0.weight"}
    _refused(_write(tmp_path / "missing.cxm", dict(payload, state_dict=state)), "missing", "extractor.backend.0.weight")
    extra = dict(payload["state_dict"], **{"head.extra": torch.zeros(3)})
    _refused(_write(tmp_path / "extra.cxm", dict(payload, state_dict=extra)), "unexpected", "head.extra")
    no_state = {k: v for k, v in payload.items() if k != "state_dict"}
    _refused(_write(tmp_path / "nostate.cxm", no_state), "state_dict")
    _refused(_write(tmp_path / "notmap.cxm", dict(payload, state_dict=[1, 2])), "tensors")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weight(payload, tmp_path, bad):
    state = dict(payload["state_dict"])
    weight = state["head.density_layer.weight"].clone()
    weight.view(-1)[1] = bad
    state["head.density_layer.weight"] = weight
    _refused(_write(tmp_path / "nan.cxm", dict(payload, state_dict=state)), "head.density_layer.weight", "NaN")


def test_integer_weight(payload, tmp_path):
    state = dict(payload["state_dict"])
    state["head.density_layer.bias"] = torch.zeros(1, dtype=torch.int64)
    _refused(_write(tmp_path / "int.cxm", dict(payload, state_dict=state)), "floating point")


@pytest.mark.parametrize("config,word", [
    ({"k_cell": 0, "k_bg": 2, "prototype_dim": 16}, "non-positive"),
    ({"k_cell": 2, "k_bg": 2}, "config"),
    ({"k_cell": "many", "k_bg": 2, "prototype_dim": 16}, "config"),
    ("k_cell=2", "config"),
])
def test_bad_config(payload, tmp_path, config, word):
    _refused(_write(tmp_path / "cfg.cxm", dict(payload, config=config)), word)


@pytest.mark.parametrize("name,value,word", [
    ("prototype_dim", 2 ** 40, "4096"),
    ("prototype_dim", 4097, "4096"),
    ("k_cell", 10 ** 6, "256"),
    ("k_bg", 257, "256"),
    ("k_cell", True, "whole number"),
    ("k_bg", 2.5, "whole number"),
    ("prototype_dim", float("inf"), "whole number"),
    ("k_bg", -1, "non-positive"),
])
def test_config_sizes_out_of_range_are_refused_before_allocating(payload, tmp_path, monkeypatch, name, value, word):
    def no_network(*args, **kwargs):
        raise AssertionError("a network was built for a refused config")

    monkeypatch.setattr(modelfile, "CountXplain", no_network)
    error = _refused(_write(tmp_path / "cfg.cxm", dict(payload, config=dict(payload["config"], **{name: value}))), word)
    assert name in error.reason


@pytest.mark.parametrize("diameter", [float("inf"), float("-inf"), float("nan"), 0, -3.0, True,
                                      pytest.param(10 ** 400, id="int-too-large-for-a-float"), "10"])
def test_cell_diameter_must_be_a_finite_positive_number(payload, tmp_path, diameter):
    bad = dict(payload, preprocessing={"cell_diameter_px": diameter})
    _refused(_write(tmp_path / "d.cxm", bad), "cell_diameter_px", "finite positive")


def test_the_largest_accepted_config_sizes_load(tmp_path):
    from countxplain.modelfile import CONFIG_LIMITS, ModelBundle
    from countxplain.network import CountXplain, ModelConfig

    largest = ModelConfig(k_cell=CONFIG_LIMITS["k_cell"], k_bg=1, prototype_dim=CONFIG_LIMITS["prototype_dim"])
    network = CountXplain(largest)
    path = save_model(ModelBundle(network, {"cell_diameter_px": 7}, {}), tmp_path / "big.cxm")
    assert load_model(path).config.prototype_dim == CONFIG_LIMITS["prototype_dim"]


def test_bad_gallery_and_metadata(payload, tmp_path):
    gallery = dict(payload["gallery"], patches=payload["gallery"]["patches"].float())
    _refused(_write(tmp_path / "g1.cxm", dict(payload, gallery=gallery)), "gallery")
    gallery = dict(payload["gallery"], similarity=torch.zeros(2, 2))
    _refused(_write(tmp_path / "g2.cxm", dict(payload, gallery=gallery)), "gallery")
    _refused(_write(tmp_path / "g3.cxm", dict(payload, gallery=[1, 2])), "gallery")
    _refused(_write(tmp_path / "d.cxm", dict(payload, preprocessing={"cell_diameter_px": -3.0})), "diameter")
    _refused(_write(tmp_path / "p.cxm", dict(payload, provenance="text")), "provenance")
    _refused(_write(tmp_path / "s.cxm", dict(payload, preprocessing={"fit_to_stride": "yes"})), "fit_to_stride")


def test_text_file_and_other_files(tmp_path):
    text = tmp_path / "notes.cxm"
    text.write_text("this is not a model\n" * 50)
    _refused(text, "not a CountXplain model file")
    empty = tmp_path / "empty.cxm"
    empty.write_bytes(b"")
    _refused(empty, "empty")
    _refused(tmp_path / "absent.cxm", "does not exist")
    other_zip = tmp_path / "other.cxm"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "a zip, but not a torch archive")
    _refused(other_zip)


class _CreatesFile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _RunsShell:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("maker", [_CreatesFile, _RunsShell])
@pytest.mark.parametrize("where", ["whole", "inside"])
def test_malicious_pickle_is_refused_without_running(payload, tmp_path, maker, where):
    marker = tmp_path / "pwned.txt"
    evil = maker(marker)
    content = evil if where == "whole" else dict(payload, provenance={"name": "nice", "note": evil})
    path = tmp_path / "evil.cxm"
    torch.save(content, path, pickle_protocol=2)
    assert not marker.exists()  # saving did not run it
    assert zipfile.is_zipfile(path)
    error = _refused(path, "refused")
    assert "plain data" in error.reason
    assert not marker.exists()


def test_malicious_legacy_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "legacy.cxm"
    torch.save(_CreatesFile(marker), path, pickle_protocol=2, _use_new_zipfile_serialization=False)
    _refused(path)
    raw = tmp_path / "raw.cxm"
    raw.write_bytes(pickle.dumps(_RunsShell(marker), protocol=2))
    _refused(raw)
    assert not marker.exists()


# --- atomic save ---------------------------------------------------------------------------------------

def _boom(*args, **kwargs):
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize("target", ["torch.save", "os.replace", "os.fsync"])
def test_failed_save_keeps_the_existing_file(tiny_model_file, tmp_path, monkeypatch, target):
    bundle = load_model(tiny_model_file)
    path = save_model(bundle, tmp_path / "model.cxm")
    before = path.read_bytes()
    with torch.no_grad():
        bundle.network.head.prototypes.add_(1.0)  # something different to write
    if target == "torch.save":
        monkeypatch.setattr(modelfile.torch, "save", _boom)
    else:
        monkeypatch.setattr(annotations.os, target.split(".")[1], _boom)
    with pytest.raises(OSError, match="simulated"):
        save_model(bundle, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.cxm"]
    load_model(path)  # still a valid model


def test_header_constants():
    assert FORMAT_NAME == "countxplain-model"
    assert isinstance(FORMAT_VERSION, int)
    assert np.isfinite(modelfile.DEFAULT_PREPROCESSING["cell_diameter_px"])


def test_saved_weights_are_contiguous_even_from_a_channels_last_network(tmp_path):
    from countxplain.modelfile import ModelBundle, read_payload
    from countxplain.network import CountXplain, ModelConfig

    network = CountXplain(ModelConfig(k_cell=1, k_bg=1, prototype_dim=4)).to(memory_format=torch.channels_last)
    assert not network.extractor.backend[0].weight.is_contiguous()
    path = save_model(ModelBundle(network, {}, {}), tmp_path / "m.cxm")
    assert all(t.is_contiguous() for t in read_payload(path)["state_dict"].values())
    assert torch.equal(load_model(path).network.extractor.backend[0].weight, network.extractor.backend[0].weight)
