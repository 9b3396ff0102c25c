"""Counting with a model: tiling, rescaling to the model's cell size, cancelling, devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from countxplain import device as device_module
from countxplain.device import DEVICE_CHOICES, choose_device
from countxplain.errors import Cancelled
from countxplain.images import read_image
from countxplain.inference import Counter, CountResult
from countxplain.modelfile import load_model

# a 520 x 696 fluorescence image of the DSB2018 set
REAL_IMAGE = "dsb2018/images/07fb37aafa6626608af90c1e18f6a743f29b6b233d2e427dcd1102df6a916cf5.png"


@pytest.fixture(autouse=True)
def _few_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(min(2, previous))
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny(tiny_model_file):
    return load_model(tiny_model_file)


@pytest.fixture(scope="module")
def varying(tiny_model_file):
    """The tiny model with the pre-trained CSRNet extractor and a sharper feature layer, so that
    its density varies over the image (the random tiny model's is almost constant, which would
    hide a tile put in the wrong place)."""
    from countxplain.pretrained import default_weights_path, load_csrnet_state

    if not default_weights_path().exists():
        pytest.fail("CSRNet weights missing; run 'python -m countxplain.pretrained' before the tests")
    bundle = load_model(tiny_model_file)
    with torch.no_grad():
        bundle.network.extractor.load_state_dict(load_csrnet_state(), strict=True)
        bundle.network.head.feature_processing.weight.mul_(100.0)
        bundle.network.head.feature_processing.bias.zero_()
    return bundle


def test_tiled_count_equals_untiled(varying, data_root):
    pixels = read_image(data_root / REAL_IMAGE).pixels
    assert pixels.shape == (520, 696, 3)
    whole = Counter(varying, device="cpu", tile_size=1024).count(pixels)
    tiled = Counter(varying, device="cpu", tile_size=256, tile_margin=128).count(pixels)
    assert whole.density.shape == tiled.density.shape == (65, 87)
    density = whole.density
    assert density.std() > 0.01 * density.mean()  # the map has structure a misplaced tile would break
    assert abs(tiled.count - whole.count) <= 0.005 * whole.count
    np.testing.assert_allclose(tiled.density, density, atol=0.05 * float(density.std()), rtol=0)
    assert whole.count == pytest.approx(float(density.sum(dtype=np.float64)))


def test_tiled_similarity_maps_are_stitched(tiny, rgb_image):
    pixels = read_image(rgb_image).pixels  # 96 x 128
    whole = Counter(tiny, device="cpu").count(pixels, with_similarity=True)
    tiled = Counter(tiny, device="cpu", tile_size=64, tile_margin=32).count(pixels, with_similarity=True)
    assert whole.similarity.shape == tiled.similarity.shape == (tiny.config.k_total, 12, 16)
    assert abs(tiled.count - whole.count) <= 0.005 * abs(whole.count)
    assert not (tiled.density == 0).any()  # every output cell was written by some tile
    np.testing.assert_allclose(tiled.similarity, whole.similarity, rtol=1e-3)
    assert Counter(tiny, device="cpu").count(pixels).similarity is None


def test_counts_images_of_any_size(tiny):
    pixels = np.random.default_rng(0).random((37, 50, 3)).astype(np.float32)
    result = Counter(tiny, device="cpu").count(pixels)
    assert isinstance(result, CountResult)
    assert result.density.shape == (5, 7)
    assert result.image_shape == (37, 50)
    assert result.scale == 1.0 and result.pixels_per_cell == 8.0
    assert result.device == "cpu"
    assert np.isfinite(result.count)


def test_a_diameter_that_would_enlarge_the_image_past_the_limit_is_refused(tiny):
    from countxplain.errors import CountXplainError
    from countxplain.scale_policy import MAX_RESCALED_PIXELS

    pixels = np.zeros((40, 50, 3), np.float32)
    counter = Counter(tiny, device="cpu")
    limit = tiny.cell_diameter_px * (40 * 50 / MAX_RESCALED_PIXELS) ** 0.5  # the smallest diameter allowed
    with pytest.raises(CountXplainError, match="would enlarge this 50x40 image"):
        counter.count(pixels, cell_diameter_px=limit * 0.99)
    assert counter.count(pixels, cell_diameter_px=tiny.cell_diameter_px / 2).scale == pytest.approx(2.0)


@pytest.mark.parametrize("diameter", [5.0, 20.0, 10.0])
def test_cell_diameter_rescales_by_model_over_given(tiny, rgb_image, diameter):
    pixels = read_image(rgb_image).pixels  # 96 x 128
    counter = Counter(tiny, device="cpu")
    assert tiny.cell_diameter_px == 10.0
    expected = tiny.cell_diameter_px / diameter
    assert counter.scale_for(diameter) == pytest.approx(expected)
    result = counter.count(pixels, cell_diameter_px=diameter)
    assert result.scale == pytest.approx(expected)
    assert result.pixels_per_cell == pytest.approx(8.0 / expected)
    assert result.image_shape == (96, 128)
    h, w = round(96 * expected), round(128 * expected)
    assert result.density.shape == (-(-h // 8), -(-w // 8))


def test_no_diameter_means_no_rescaling(tiny):
    counter = Counter(tiny, device="cpu")
    assert counter.scale_for(None) == 1.0
    assert counter.scale_for(0) == 1.0


def test_cancel_flag_raises_cancelled(tiny, rgb_image):
    pixels = read_image(rgb_image).pixels
    with pytest.raises(Cancelled):
        Counter(tiny, device="cpu").count(pixels, cancel=lambda: True)
    calls = []

    def cancel_on_second_tile():
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(Cancelled):
        Counter(tiny, device="cpu", tile_size=64, tile_margin=0).count(pixels, cancel=cancel_on_second_tile)
    assert len(calls) == 2
    result = Counter(tiny, device="cpu").count(pixels, cancel=lambda: False)
    assert np.isfinite(result.count)


def test_bad_precision_and_device(tiny):
    with pytest.raises(ValueError, match="precision"):
        Counter(tiny, device="cpu", precision="int8")
    with pytest.raises(ValueError, match="unknown device"):
        Counter(tiny, device="tpu")


def test_bf16_precision_counts_close_to_fp32(tiny, rgb_image):
    pixels = read_image(rgb_image).pixels
    fp32 = Counter(tiny, device="cpu").count(pixels).count
    bf16 = Counter(tiny, device="cpu", precision="bf16").count(pixels).count
    assert bf16 == pytest.approx(fp32, rel=0.05)


def test_bf16_path_keeps_the_input_convolution_in_fp32(tiny, rgb_image):
    import torch

    counter = Counter(tiny, device="cpu", precision="bf16")
    counter.count(read_image(rgb_image).pixels)
    low = counter._low_precision_extractor(torch.bfloat16)
    assert low.input[0].weight.dtype == torch.float32
    assert low.input[0].weight.data_ptr() == counter.network.extractor.frontend[0].weight.data_ptr()  # shared
    assert all(p.dtype == torch.bfloat16 for p in list(low.frontend.parameters()) + list(low.backend.parameters()))


def test_auto_precision_resolves_to_fp32_or_bf16_with_a_reason(tiny, rgb_image):
    pixels = read_image(rgb_image).pixels
    counter = Counter(tiny, device="cpu", precision="auto")
    assert counter.requested_precision == "auto"
    assert counter.precision in ("fp32", "bf16")
    assert counter.precision_reason.startswith(counter.precision)
    fp32 = Counter(tiny, device="cpu").count(pixels).count
    assert counter.count(pixels).count == pytest.approx(fp32, rel=0.05)


# --- devices -----------------------------------------------------------------------------------

def test_cuda_request_falls_back_to_cpu_with_a_reason():
    choice = choose_device("cuda")
    if torch.cuda.is_available():
        assert choice.device.type == "cuda"
    else:
        assert choice.device.type == "cpu"
        assert choice.reason.strip()
        assert "CPU" in choice.reason


def test_unusable_gpu_falls_back_with_its_reason(monkeypatch):
    monkeypatch.setattr(device_module, "cuda_problem", lambda: "no NVIDIA GPU or driver found")
    monkeypatch.setattr(device_module, "mps_problem", lambda: "no Apple GPU (MPS) available on this machine")
    for preference in ("cuda", "CUDA", "auto", None):
        choice = choose_device(preference)
        assert choice.device.type == "cpu"
        assert "no NVIDIA GPU" in choice.reason
        assert choice.label == "CPU"
    assert "Apple" in choose_device("mps").reason
    monkeypatch.setattr(device_module.sys, "platform", "linux")
    assert "Apple" not in choose_device("auto").reason  # no Apple GPU can exist there: not worth a word
    monkeypatch.setattr(device_module.sys, "platform", "darwin")
    assert choose_device("auto").reason.count(";") == 1  # both reasons


def test_cpu_and_unknown_devices():
    assert choose_device("cpu").device == torch.device("cpu")
    assert choose_device("cpu").reason
    with pytest.raises(ValueError) as info:
        choose_device("tpu")
    assert "tpu" in str(info.value)
    assert all(name in str(info.value) for name in DEVICE_CHOICES)


def test_counters_leave_the_bundle_network_as_it_was_and_run_side_by_side(tiny_model_file, rgb_image):
    import threading

    bundle = load_model(tiny_model_file)
    bundle.network.train()
    conv = bundle.network.extractor.frontend[0].weight
    before = conv.detach().clone()
    pixels = read_image(rgb_image).pixels
    counters = [Counter(bundle, device="cpu"), Counter(bundle, device="cpu")]
    assert bundle.network.training and conv.device.type == "cpu" and conv.is_contiguous()
    assert torch.equal(conv, before)

    counts, errors = [[], []], []

    def count_three_times(i):
        try:
            counts[i] += [counters[i].count(pixels).count for _ in range(3)]
        except Exception as error:  # reported below; a thread's exception would be lost otherwise
            errors.append(error)

    threads = [threading.Thread(target=count_three_times, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert counts[0] == pytest.approx(counts[1], rel=1e-5) and len(counts[0]) == 3


def test_model_fitted_to_its_stride_counts_without_padded_cells(varying, rgb_image):
    """A model trained with ``fit_to_stride`` resizes each axis to a whole number of cells; boxes,
    box counts and the density's cell sides follow the two axes' own scales."""
    import copy

    from countxplain.explain import count_in_rect, similarity_boxes, upsample_to_image

    bundle = copy.copy(varying)
    bundle.preprocessing = {**varying.preprocessing, "fit_to_stride": True}
    pixels = read_image(rgb_image).pixels[:93, :125]  # neither side a multiple of 8
    result = Counter(bundle, device="cpu").count(pixels, cell_diameter_px=13.0, with_similarity=True)
    scale = 10.0 / 13.0
    rows, cols = round(93 * scale / 8) * 8, round(125 * scale / 8) * 8  # 72 x 96
    assert result.density.shape == (rows // 8, cols // 8)
    assert result.axis_scales == pytest.approx((rows / 93, cols / 125))
    assert result.axis_scales[0] != pytest.approx(result.axis_scales[1], rel=1e-3)
    assert result.cell_px == pytest.approx((8 * 93 / rows, 8 * 125 / cols))
    assert result.cell_area_px == pytest.approx(64 * 93 * 125 / (rows * cols))
    assert result.scale == pytest.approx(scale)
    assert count_in_rect(result, 0, 0, 125, 93) == pytest.approx(result.count, rel=1e-6)
    left_half = count_in_rect(result, 0, 0, result.cell_px[1] * 6, 93)
    assert left_half == pytest.approx(float(result.density[:, :6].sum(dtype=np.float64)), rel=1e-5)
    assert upsample_to_image(result.density, result).shape == (93, 125)
    for k in range(bundle.config.k_total):
        for x0, y0, x1, y1 in similarity_boxes(result, k):
            assert 0 <= x0 < x1 <= 125 and 0 <= y0 < y1 <= 93
            assert x1 - x0 >= np.ceil(result.cell_px[1]) and y1 - y0 >= np.ceil(result.cell_px[0])
    plain = Counter(varying, device="cpu").count(pixels, cell_diameter_px=13.0)
    assert plain.axis_scales is None and plain.cell_px == (8 / plain.scale, 8 / plain.scale)
    assert plain.density.shape == (-(-round(93 * scale) // 8), -(-round(125 * scale) // 8))


def test_flip_averaged_maps_are_the_mean_over_the_mirrored_image(varying, rgb_image):
    """``flips=4`` (for the counter or for one count) averages the maps of the image and its three mirror
    images, each flipped back onto the image; on a 96 x 128 image (whole cells, no padding) that is the
    mean of four plain counts."""
    from countxplain.explain import contributions

    pixels = read_image(rgb_image).pixels
    plain = Counter(varying, device="cpu")
    averaged = Counter(varying, device="cpu", flips=4).count(pixels, with_similarity=True)
    views = [((), plain.count(pixels, with_similarity=True))]
    for axes in ((1,), (0,), (0, 1)):
        views.append((axes, plain.count(np.ascontiguousarray(np.flip(pixels, axes)), with_similarity=True)))
    density = np.mean([np.flip(r.density, axes) for axes, r in views], axis=0)
    similarity = np.mean([np.flip(r.similarity, tuple(a + 1 for a in axes)) for axes, r in views], axis=0)
    assert not np.allclose(views[0][1].density, density, atol=1e-4)  # mirroring changes the map
    np.testing.assert_allclose(averaged.density, density, atol=1e-5)
    np.testing.assert_allclose(averaged.similarity, similarity, atol=1e-5)
    assert contributions(varying, averaged).total == pytest.approx(averaged.count, rel=1e-5)
    assert averaged.flips == 4 and views[0][1].flips == 1
    np.testing.assert_array_equal(plain.count(pixels, flips=4).density, averaged.density)  # asked for per count
    with pytest.raises(ValueError, match="flips"):
        Counter(varying, device="cpu", flips=3)
    with pytest.raises(ValueError, match="flips"):
        plain.count(pixels, flips=8)


def test_a_padded_model_can_count_on_whole_cells_and_a_fitted_one_padded(varying, rgb_image):
    """``whole_cells`` overrides how the model was trained: the padded model asked for whole cells counts
    exactly as the same weights marked ``fit_to_stride``, and the other way round."""
    import copy

    fitted = copy.copy(varying)
    fitted.preprocessing = {**varying.preprocessing, "fit_to_stride": True}
    pixels = read_image(rgb_image).pixels[:93, :125]
    as_fitted = Counter(fitted, device="cpu").count(pixels, cell_diameter_px=13.0)
    asked = Counter(varying, device="cpu", whole_cells=True).count(pixels, cell_diameter_px=13.0)
    np.testing.assert_array_equal(asked.density, as_fitted.density)
    assert asked.cell_px == as_fitted.cell_px and asked.axis_scales is not None
    padded = Counter(fitted, device="cpu", whole_cells=False).count(pixels, cell_diameter_px=13.0)
    varied = Counter(varying, device="cpu").count(pixels, cell_diameter_px=13.0)
    np.testing.assert_array_equal(padded.density, varied.density)
    assert padded.axis_scales is None


def test_mirror_images_are_averaged_on_whole_cells_unless_padding_is_asked_for(varying, rgb_image):
    """A padded model averaging 4 views counts on whole cells (a mirrored padded canvas would put the padding
    at the top or left, where the model never saw it); ``whole_cells=False`` still pads."""
    pixels = read_image(rgb_image).pixels[:93, :125]  # padded: 96 x 128 with 3 rows and columns of padding
    counter = Counter(varying, device="cpu")
    assert counter.whole_cells is False and counter.whole_cells_for(4) is True
    averaged = counter.count(pixels, flips=4)
    asked = Counter(varying, device="cpu", whole_cells=True).count(pixels, flips=4)
    assert averaged.whole_cells and averaged.axis_scales is not None
    np.testing.assert_array_equal(averaged.density, asked.density)
    assert Counter(varying, device="cpu", flips=4).whole_cells is True
    padded = Counter(varying, device="cpu", whole_cells=False).count(pixels, flips=4)
    assert not padded.whole_cells and not np.allclose(padded.density, averaged.density, atol=1e-6)
    assert not counter.count(pixels).whole_cells
