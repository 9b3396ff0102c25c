"""A classical few-shot peer for cell counting: a Laplacian-of-Gaussian spot detector.

This is not part of CountXplain; it is a baseline to compare CountXplain's few-shot counts
with. Given a handful of dot-annotated images, it tunes a handful of knobs by grid search on
those images alone and counts a new image as the number of spots it detects.

The detector (scipy.ndimage only):

1. reduce the float RGB image in [0, 1] to one gray channel (``channel``: the mean of R, G, B,
   or one of them);
2. filter it with the scale-normalised negative Laplacian of Gaussian, ``-sigma² · LoG``, at
   scale ``sigma`` (px); for ``polarity="bright"`` (bright cells on a dark background) that
   response is used as it is, for ``"dark"`` (dark cells on a bright background, e.g. nuclei
   in H&E) its negative, so that a cell is a positive peak either way;
3. a peak is a pixel equal to the maximum of the response in the ``window`` × ``window`` box
   around it (``maximum_filter``) and above the threshold; the threshold is either an
   absolute response value (``threshold_mode="absolute"``) or a fraction of the image's
   largest response (``"relative"``);
4. the count is the number of peaks.

``tune`` (and ``grid_search``, which also returns the tuning error) picks the knobs that
minimise the mean absolute count error on the given images. It filters each image once per
channel and sigma, finds the peaks once per polarity and window, and then counts every
threshold of the grid at once from the sorted peak values, so the threshold axis is nearly free.

Command line (from the repository root)::

    python benchmarks/peers/spot_detector.py --sets mbm adi vgg dsb2018 --shots 5 15 --seeds 0 1 2 \\
        [--data ../shared/data] [--out benchmarks/results/spot_detector.json]

For each set, shot count N and seed it takes the few-shot split of
``countxplain.protocols.few_shot_split`` (the N shots from the protocol's training share of
split ``seed``, and that split's test images), tunes on the N shots only and reports the test
MAE (mean over test images of |count − number of annotated dots|), writes every result to the
JSON file and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

CHANNELS = ("mean", "red", "green", "blue")
POLARITIES = ("bright", "dark")
THRESHOLD_MODES = ("absolute", "relative")

_CHANNEL_INDEX = {"red": 0, "green": 1, "blue": 2}


@dataclass(frozen=True)
class SpotParams:
    """The detector's knobs (see the module docstring)."""

    sigma: float
    threshold: float
    window: int
    polarity: str = "bright"
    channel: str = "mean"
    threshold_mode: str = "absolute"

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, not {self.polarity!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, not {self.channel!r}")
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(f"threshold_mode must be one of {THRESHOLD_MODES}, not {self.threshold_mode!r}")
        if self.sigma <= 0 or self.window < 1:
            raise ValueError("sigma must be > 0 and window >= 1")


def _geometric(lo: float, hi: float, n: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.geomspace(lo, hi, n))


@dataclass(frozen=True)
class SpotGrid:
    """The values ``grid_search`` tries for each knob (every combination is tried)."""

    sigmas: tuple[float, ...] = field(default_factory=lambda: _geometric(1.0, 16.0, 13))
    windows: tuple[int, ...] = (3, 5, 7, 9, 11, 13, 15, 19, 23, 27, 31, 37, 43)
    absolute_thresholds: tuple[float, ...] = field(default_factory=lambda: _geometric(1e-3, 1.0, 43))
    relative_thresholds: tuple[float, ...] = field(default_factory=lambda: _geometric(0.02, 0.95, 30))
    polarities: tuple[str, ...] = POLARITIES
    channels: tuple[str, ...] = CHANNELS
    threshold_modes: tuple[str, ...] = THRESHOLD_MODES


DEFAULT_GRID = SpotGrid()


@dataclass(frozen=True)
class SearchResult:
    params: SpotParams
    mae: float  # mean absolute count error of ``params`` on the tuning images
    n_combinations: int


# --- the detector -----------------------------------------------------------------------------

def gray_channel(pixels: np.ndarray, channel: str = "mean") -> np.ndarray:
    """One float64 gray channel of an (H, W, 3) float image (an (H, W) image is taken as is)."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        return pixels.astype(np.float64)
    if pixels.ndim != 3 or pixels.shape[2] < 3:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {pixels.shape}")
    if channel == "mean":
        return pixels[:, :, :3].astype(np.float64).mean(axis=2)
    return pixels[:, :, _CHANNEL_INDEX[channel]].astype(np.float64)


def log_response(gray: np.ndarray, sigma: float) -> np.ndarray:
    """The scale-normalised negative LoG, ``-sigma² · LoG(gray)``: positive on bright blobs."""
    return -(sigma ** 2) * ndimage.gaussian_laplace(gray, sigma, mode="nearest")


def _signed(response: np.ndarray, polarity: str) -> np.ndarray:
    return response if polarity == "bright" else -response


def peak_values(signed: np.ndarray, window: int) -> np.ndarray:
    """The values of the response's local maxima in a ``window`` × ``window`` box, sorted."""
    is_peak = signed == ndimage.maximum_filter(signed, size=window, mode="nearest")
    return np.sort(signed[is_peak])


def _threshold_scale(signed: np.ndarray, threshold_mode: str) -> float:
    return 1.0 if threshold_mode == "absolute" else max(float(signed.max()), 0.0)


def detect(image: np.ndarray, params: SpotParams) -> np.ndarray:
    """The detected spots as an (N, 2) array of (x, y) pixel positions."""
    signed = _signed(log_response(gray_channel(image, params.channel), params.sigma), params.polarity)
    cut = params.threshold * _threshold_scale(signed, params.threshold_mode)
    is_peak = (signed == ndimage.maximum_filter(signed, size=params.window, mode="nearest")) & (signed > cut)
    ys, xs = np.nonzero(is_peak)
    return np.stack([xs, ys], axis=1).astype(np.float64)


def count(image: np.ndarray, params: SpotParams) -> int:
    """The number of spots ``detect`` finds in ``image`` (float RGB in [0, 1])."""
    return int(len(detect(image, params)))


# --- tuning -----------------------------------------------------------------------------------

def _counts_above(sorted_values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """How many values exceed each cut (values sorted ascending)."""
    return len(sorted_values) - np.searchsorted(sorted_values, cuts, side="right")


def _image_counts(image: np.ndarray, grid: SpotGrid) -> np.ndarray:
    """Counts of one image for every grid combination, shaped (channel, sigma, polarity, window,
    threshold); the threshold axis holds each mode's thresholds in ``grid.threshold_modes`` order
    (see ``_threshold_axis``)."""
    abs_cuts = np.asarray(grid.absolute_thresholds, dtype=np.float64)
    rel_cuts = np.asarray(grid.relative_thresholds, dtype=np.float64)
    n_thr = sum(len(abs_cuts) if m == "absolute" else len(rel_cuts) for m in grid.threshold_modes)
    out = np.zeros((len(grid.channels), len(grid.sigmas), len(grid.polarities), len(grid.windows), n_thr),
                   dtype=np.int64)
    grays: list[np.ndarray] = []
    for c, channel in enumerate(grid.channels):
        gray = gray_channel(image, channel)
        same = next((k for k, g in enumerate(grays) if np.array_equal(g, gray)), None)
        grays.append(gray)
        if same is not None:  # e.g. a gray image: every channel gives the same counts
            out[c] = out[same]
            continue
        for s, sigma in enumerate(grid.sigmas):
            response = log_response(gray, sigma)
            for p, polarity in enumerate(grid.polarities):
                signed = _signed(response, polarity)
                scale = {m: _threshold_scale(signed, m) for m in grid.threshold_modes}
                for w, window in enumerate(grid.windows):
                    values = peak_values(signed, window)
                    parts = [_counts_above(values, (abs_cuts if m == "absolute" else rel_cuts) * scale[m])
                             for m in grid.threshold_modes]
                    out[c, s, p, w] = np.concatenate(parts)
    return out


def _threshold_axis(grid: SpotGrid) -> list[tuple[str, float]]:
    axis = []
    for mode in grid.threshold_modes:
        values = grid.absolute_thresholds if mode == "absolute" else grid.relative_thresholds
        axis += [(mode, float(v)) for v in values]
    return axis


def grid_search(images: list[np.ndarray], dot_counts: list[int], grid: SpotGrid = DEFAULT_GRID) -> SearchResult:
    """The grid combination with the smallest mean absolute count error on ``images``
    (ties: smaller mean squared error, then the first in grid order)."""
    if len(images) == 0 or len(images) != len(dot_counts):
        raise ValueError(f"need one dot count per image and at least one image "
                         f"(got {len(images)} images, {len(dot_counts)} counts)")
    truth = np.asarray(dot_counts, dtype=np.float64)
    abs_err = None
    sq_err = None
    for image, n_true in zip(images, truth):
        diff = _image_counts(image, grid) - n_true
        abs_err = np.abs(diff) if abs_err is None else abs_err + np.abs(diff)
        sq_err = diff ** 2 if sq_err is None else sq_err + diff ** 2
    mae = abs_err.reshape(-1) / len(images)
    mse = sq_err.reshape(-1) / len(images)
    best = int(np.lexsort((np.arange(mae.size), mse, mae))[0])
    c, s, p, w, t = np.unravel_index(best, abs_err.shape)
    mode, threshold = _threshold_axis(grid)[t]
    params = SpotParams(sigma=float(grid.sigmas[s]), threshold=threshold, window=int(grid.windows[w]),
                        polarity=grid.polarities[p], channel=grid.channels[c], threshold_mode=mode)
    return SearchResult(params=params, mae=float(mae[best]), n_combinations=int(mae.size))


def tune(images: list[np.ndarray], dot_counts: list[int], grid: SpotGrid = DEFAULT_GRID) -> SpotParams:
    """The knobs that minimise the mean absolute count error on the given (few) images."""
    return grid_search(images, dot_counts, grid).params


# --- the benchmark command line ---------------------------------------------------------------

SET_PROTOCOLS = {"mbm": "mbm", "adi": "adi", "vgg": "vgg32", "dsb2018": "dsb2018"}
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "spot_detector.json"


def _write_json_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1)
            handle.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def markdown_table(results: list[dict], seeds: list[int]) -> str:
    header = "| set | N | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± std |"
    lines = [header, "|" + "---|" * (len(seeds) + 3)]
    keys = []
    for r in results:
        if (r["set"], r["n_shots"]) not in keys:
            keys.append((r["set"], r["n_shots"]))
    for set_name, n in keys:
        by_seed = {r["seed"]: r["test_mae"] for r in results if r["set"] == set_name and r["n_shots"] == n}
        cells = [f"{by_seed[s]:.2f}" if s in by_seed else "–" for s in seeds]
        maes = list(by_seed.values())
        lines.append(f"| {set_name} | {n} | " + " | ".join(cells) + f" | {np.mean(maes):.2f} ± {_std(maes):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SET_PROTOCOLS), choices=list(SET_PROTOCOLS))
    parser.add_argument("--shots", nargs="+", type=int, default=[5, 15])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from countxplain.annotations import read_dots
    from countxplain.images import read_image
    from countxplain.protocols import few_shot_split, load_protocol_data

    grid = DEFAULT_GRID
    payload = {
        "description": "Few-shot peer: LoG spot detector tuned by grid search on the N shots only; "
                       "test MAE = mean |count - dots| over the protocol split's test images.",
        "data_root": str(args.data),
        "grid": asdict(grid),
        "results": [],
    }
    results = payload["results"]
    for set_name in args.sets:
        protocol = SET_PROTOCOLS[set_name]
        _, dataset = load_protocol_data(args.data, protocol)
        pixels_cache: dict[Path, np.ndarray] = {}
        dots_cache: dict[Path, int] = {}

        def load(sample, pixels_cache=pixels_cache, dots_cache=dots_cache):  # this set's caches
            if sample.image_path not in pixels_cache:
                pixels_cache[sample.image_path] = read_image(sample.image_path).pixels
                dots_cache[sample.image_path] = int(len(read_dots(sample.dots_path)))
            return pixels_cache[sample.image_path], dots_cache[sample.image_path]

        for seed in args.seeds:
            for n_shots in args.shots:
                shots, _rest, test = few_shot_split(dataset, protocol, n_shots, seed)
                shot_data = [load(s) for s in shots]
                start = time.perf_counter()
                found = grid_search([img for img, _ in shot_data], [n for _, n in shot_data], grid)
                tune_seconds = time.perf_counter() - start
                test_dots, test_counts = [], []
                for sample in test:
                    image, n_true = load(sample)
                    test_dots.append(n_true)
                    test_counts.append(count(image, found.params))
                errors = np.abs(np.asarray(test_counts) - np.asarray(test_dots))
                record = {
                    "set": set_name, "protocol": protocol, "n_shots": n_shots, "seed": seed,
                    "params": asdict(found.params),
                    "shots_mae": found.mae,
                    "test_mae": float(errors.mean()),
                    "test_mean_dots": float(np.mean(test_dots)),
                    "n_test": len(test),
                    "tune_seconds": round(tune_seconds, 2),
                    "shots": [s.name for s in shots],
                    "test_names": [s.name for s in test],
                    "test_dots": test_dots,
                    "test_counts": test_counts,
                }
                results.append(record)
                _write_json_atomic(args.out, payload)
                print(f"{set_name} N={n_shots} seed={seed}: test MAE {record['test_mae']:.2f} "
                      f"(shots MAE {found.mae:.2f}, tuned in {tune_seconds:.1f} s) {asdict(found.params)}",
                      flush=True)
        pixels_cache.clear()
    print()
    print(markdown_table(results, args.seeds))
    print(f"\nstd over seeds with ddof=1; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
