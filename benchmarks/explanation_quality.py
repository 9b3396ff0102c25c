"""Explanation quality of a model on held-back test images: purity, faithfulness, diversity.

* Purity: the share of cell-prototype boxes (99th percentile of the upsampled similarity
  map, 8-connected components) holding at least one annotated dot, and of
  background-prototype boxes holding none; for the boxes as the app and the figure show
  them (at least one map cell wide) and for the regions' own extents (``min_side=0``); and,
  apart, for the drawn boxes that reach within one map cell of the image border, whose
  similarity the zero padding beyond the image shapes; and those at the right or bottom
  edge apart from those at the left or top, since only the last row and column of cells
  also hold the padding that rounds the image up to whole cells (absent with
  ``--fit-to-stride``, which counts every image resized to whole cells, as a model
  trained with ``fit_to_stride`` does).
* Where the impure cell boxes lie: each one's distance from its centre to the nearest annotated
  dot, in cell spacings (the cell size the image was counted at), and the purity of the same
  components drawn at least one cell spacing wide instead of one map cell (0.8 of a spacing).
* For reference, the purity of the same kind of boxes drawn on the model's density map
  (its top-1 % pixels as if it were a cell prototype's map): how well the counting itself
  puts its strongest output on annotated dots, which the prototypes' maps, whose weighted
  sum the density is, can hardly beat; and the same for the density of the CSRNet output layer that
  stage 1 trained on the same features.
* The bound a perfect density regressor would reach: the same boxes drawn on the training target
  itself (the dots' density, pooled into the output cells of the image as it was counted) at the
  model's training sigma and at sharper ones; and, for background boxes, the same boxes drawn on
  an ideal background map, each output cell's distance to the nearest annotated dot.
* With ``--flips 4`` every map is the mean over the image and its three mirror images
  (``inference.FLIP_AXES``), as ``countxplain count/explain --flips 4`` count.
* Each purity's 95 % interval, resampling whole images (2000 bootstrap draws).
* Faithfulness: erasing every cell-prototype box (filled with the image mean) against
  erasing as many random boxes of the same sizes; mean count drop of each and a one-sided
  Wilcoxon signed-rank p-value (H1: the prototype boxes' drop is larger).
* Diversity: minimum and mean pairwise prototype distance within each group.
* The count's MAE on the images measured.

Usage: python benchmarks/explanation_quality.py [--model resources/models/default.cxm] [--per-set 30]
       [--protocols vgg64 mbm adi dsb2018] [--seed 0] [--fit-to-stride] [--flips 1|2|4]
       [--out benchmarks/results/explanations.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.stats import wilcoxon

from countxplain.annotations import read_dots
from countxplain.boxes import cells_in_boxes, pure_boxes
from countxplain.density import pooled_density_map, scale_dots, typical_cell_spacing
from countxplain.explain import grid_boxes, similarity_boxes
from countxplain.images import MIN_SIDE, read_image
from countxplain.inference import Counter, CountResult
from countxplain.modelfile import load_model
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS, load_protocol_data
from countxplain.training.losses import intra_group_distances

OUT = Path(__file__).resolve().parent / "results" / "explanations.json"


def erase(pixels: np.ndarray, boxes) -> np.ndarray:
    out = pixels.copy()
    mean = pixels.reshape(-1, 3).mean(axis=0)
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = mean
    return out


def random_boxes(boxes, shape, rng) -> list:
    h, w = shape
    moved = []
    for x0, y0, x1, y1 in boxes:
        bw, bh = x1 - x0, y1 - y0
        nx, ny = int(rng.integers(0, max(1, w - bw + 1))), int(rng.integers(0, max(1, h - bh + 1)))
        moved.append((nx, ny, nx + bw, ny + bh))
    return moved


class PurityTally:
    """Pure boxes (a cell box holding a dot, a background box none) and all boxes, per group,
    in all and per image (``new_image`` starts one)."""

    def __init__(self) -> None:
        self.pure = {True: 0, False: 0}
        self.boxes = {True: 0, False: 0}
        self.per_image = {True: [], False: []}

    def new_image(self) -> None:
        for group in self.per_image.values():
            group.append([0, 0])

    def add(self, is_cell: bool, holds_dot: np.ndarray) -> None:
        pure = pure_boxes(holds_dot, is_cell)
        self.pure[is_cell] += pure
        self.boxes[is_cell] += len(holds_dot)
        if self.per_image[is_cell]:
            self.per_image[is_cell][-1][0] += pure
            self.per_image[is_cell][-1][1] += len(holds_dot)

    def purity(self, is_cell: bool) -> float:
        return self.pure[is_cell] / max(self.boxes[is_cell], 1)

    def interval(self, is_cell: bool, resamples: int = 2000, seed: int = 0) -> list[float] | None:
        """95 % interval of the purity, resampling whole images (boxes of one image are not independent)."""
        counts = np.array(self.per_image[is_cell], dtype=float).reshape(-1, 2)
        if len(counts) < 2 or counts[:, 1].sum() == 0:
            return None
        draws = np.random.default_rng(seed).integers(0, len(counts), size=(resamples, len(counts)))
        sums = counts[draws].sum(axis=1)
        shares = sums[:, 0] / np.maximum(sums[:, 1], 1)
        return [float(np.percentile(shares, 2.5)), float(np.percentile(shares, 97.5))]

    def summary(self) -> dict:
        return {"cell": self.purity(True), "cell_boxes": self.boxes[True],
                "background": self.purity(False), "background_boxes": self.boxes[False]}


def nearest_dot_spacings(dots: np.ndarray, boxes, spacing: float) -> np.ndarray:
    """For each box (x0, y0, x1, y1), the distance from its centre to the nearest dot, in ``spacing`` units."""
    dots = np.asarray(dots, dtype=float).reshape(-1, 2)
    if len(dots) == 0:
        return np.full(len(boxes), np.inf)
    centres = np.array([((x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2) for x0, y0, x1, y1 in boxes]).reshape(-1, 2)
    gaps = np.hypot(centres[:, None, 0] - dots[None, :, 0], centres[:, None, 1] - dots[None, :, 1])
    return gaps.min(axis=1) / spacing


def touches_border(boxes, shape: tuple[int, int], margin: float) -> np.ndarray:
    """For each box (x0, y0, x1, y1), whether it reaches within ``margin`` pixels of the image edge."""
    return touches_right_or_bottom(boxes, shape, margin) | touches_left_or_top(boxes, margin)


def touches_right_or_bottom(boxes, shape: tuple[int, int], margin: float) -> np.ndarray:
    height, width = shape
    return np.array([x1 > width - margin or y1 > height - margin for x0, y0, x1, y1 in boxes], dtype=bool)


def touches_left_or_top(boxes, margin: float) -> np.ndarray:
    return np.array([x0 < margin or y0 < margin for x0, y0, x1, y1 in boxes], dtype=bool)


def miss_summary(spacings: np.ndarray) -> dict:
    """How far the impure cell boxes' centres lie from the nearest dot, in cell spacings."""
    finite = spacings[np.isfinite(spacings)]
    return {"boxes": int(len(spacings)),
            "median_spacings": float(np.median(finite)) if len(finite) else None,
            "within_one_spacing": float((spacings < 1.0).mean()) if len(spacings) else None}


def target_density(result: CountResult, dots: np.ndarray, sigma: float) -> np.ndarray:
    """The density a model is trained to output for ``dots``, on ``result``'s grid of output cells."""
    height, width = result.image_shape
    rows, cols = result.axis_scales or (result.scale, result.scale)
    shape = (max(MIN_SIDE, round(height * rows)), max(MIN_SIDE, round(width * cols)))
    target = pooled_density_map(scale_dots(dots, shape[1] / width, shape[0] / height), shape, sigma,
                                stride=result.stride)
    if target.shape != result.density.shape:
        raise RuntimeError(f"target grid {target.shape} differs from the count's {result.density.shape}")
    return target


def distance_to_dots(result: CountResult, dots: np.ndarray) -> np.ndarray:
    """For each of ``result``'s output cells, the distance (original pixels) from its centre to the nearest dot."""
    height, width = result.density.shape
    cell_h, cell_w = result.cell_px
    rows, cols = np.meshgrid((np.arange(height) + 0.5) * cell_h - 0.5, (np.arange(width) + 0.5) * cell_w - 0.5,
                             indexing="ij")
    if len(dots) == 0:
        return np.ones((height, width), np.float32)
    gaps, _ = cKDTree(dots).query(np.stack([cols.ravel(), rows.ravel()], axis=1))
    return gaps.reshape(height, width).astype(np.float32)


def target_sigmas(model) -> list[float]:
    """The model's training sigma (of its head's targets) first, then 2 and 1 px (the section reads the first
    as the trained one)."""
    trained = float(model.preprocessing.get("sigma_px", 4.0))
    return [trained] + sorted({2.0, 1.0} - {trained}, reverse=True)


def set_quality(counter: Counter, data: Path, name: str, seed: int, per_set: int,
                rng: np.random.Generator) -> tuple[str, dict]:
    """Purity and faithfulness of ``counter``'s model on the first ``per_set`` test images of a protocol split."""
    model = counter.bundle
    stage1 = None  # the CSRNet output layer stage 1 trained, where the model has one
    if model.config.extractor == "csrnet":
        stage1 = Counter(model, device=counter.device, branch="csrnet", flips=counter.flips,
                         whole_cells=counter.whole_cells)
    k_cell = model.config.k_cell
    protocol, dataset = load_protocol_data(data, name)
    train, _, test = protocol.split(dataset, seed=seed)
    set_diameter = None
    if protocol.dataset != "dsb2018":
        set_diameter = float(np.nanmedian([typical_cell_spacing(read_dots(s.dots_path)) for s in train]))
    drawn, raw, border = PurityTally(), PurityTally(), PurityTally()
    far_edges, near_edges, cell_wide = PurityTally(), PurityTally(), PurityTally()
    density, stage1_density = PurityTally(), PurityTally()
    targets = {sigma: PurityTally() for sigma in target_sigmas(model)}
    far_from_dots = PurityTally()
    misses = []
    drops_proto, drops_random, errors = [], [], []
    for sample in test[:per_set]:
        image = read_image(sample.image_path)
        dots = read_dots(sample.dots_path)
        diameter = set_diameter or typical_cell_spacing(dots)
        diameter = diameter if np.isfinite(diameter) else None
        result = counter.count(image.pixels, cell_diameter_px=diameter, with_similarity=True)
        errors.append(abs(result.count - len(dots)))
        shape, margin = image.pixels.shape[:2], result.pixels_per_cell
        spacing = diameter or float(model.cell_diameter_px)
        drawn.new_image()
        density.add(True, cells_in_boxes(dots, grid_boxes(result, result.density)))
        if stage1 is not None:
            stage1_result = stage1.count(image.pixels, cell_diameter_px=diameter)
            stage1_density.add(True, cells_in_boxes(dots, grid_boxes(stage1_result, stage1_result.density)))
        for sigma, tally in targets.items():
            tally.add(True, cells_in_boxes(dots, grid_boxes(result, target_density(result, dots, sigma))))
        far_from_dots.add(False, cells_in_boxes(dots, grid_boxes(result, distance_to_dots(result, dots))))
        cell_boxes = []
        for k in range(model.config.k_total):
            is_cell = k < k_cell
            boxes = similarity_boxes(result, k)
            inside = cells_in_boxes(dots, boxes)
            drawn.add(is_cell, inside)
            border.add(is_cell, inside[touches_border(boxes, shape, margin)])
            far = touches_right_or_bottom(boxes, shape, margin)
            far_edges.add(is_cell, inside[far])
            near_edges.add(is_cell, inside[touches_left_or_top(boxes, margin) & ~far])
            raw.add(is_cell, cells_in_boxes(dots, similarity_boxes(result, k, min_side=0)))
            cell_wide.add(is_cell, cells_in_boxes(dots, similarity_boxes(result, k, min_side=spacing)))
            if is_cell:
                cell_boxes += boxes
                misses += list(nearest_dot_spacings(dots, [b for b, hit in zip(boxes, inside) if not hit], spacing))
        if cell_boxes:
            erased = counter.count(erase(image.pixels, cell_boxes), cell_diameter_px=diameter).count
            randomised = counter.count(erase(image.pixels, random_boxes(cell_boxes, image.pixels.shape[:2], rng)),
                                       cell_diameter_px=diameter).count
            drops_proto.append(result.count - erased)
            drops_random.append(result.count - randomised)
    stat = wilcoxon(drops_proto, drops_random, alternative="greater") if len(drops_proto) > 1 else None
    return protocol.dataset, {
        "n_images": min(per_set, len(test)),
        "cell_box_purity": drawn.purity(True), "cell_boxes": drawn.boxes[True],
        "background_box_purity": drawn.purity(False), "background_boxes": drawn.boxes[False],
        "purity_interval": {"cell": drawn.interval(True), "background": drawn.interval(False)},
        "density_box_purity": {"purity": density.purity(True), "boxes": density.boxes[True]},
        "csrnet_density_box_purity": {"purity": stage1_density.purity(True), "boxes": stage1_density.boxes[True]},
        "target_density_box_purity": [{"sigma_px": sigma, "purity": tally.purity(True), "boxes": tally.boxes[True]}
                                      for sigma, tally in targets.items()],
        "ideal_background_box_purity": {"purity": far_from_dots.purity(False), "boxes": far_from_dots.boxes[False]},
        "region_purity": raw.summary(), "border_purity": border.summary(),
        "edge_purity": {"right_or_bottom": far_edges.summary(), "left_or_top_only": near_edges.summary()},
        "cell_wide_purity": cell_wide.summary(),
        "impure_cell_boxes": miss_summary(np.array(misses)),
        "mae": float(np.mean(errors)) if errors else None,
        "mean_drop_prototype_boxes": float(np.mean(drops_proto)) if drops_proto else None,
        "mean_drop_random_boxes": float(np.mean(drops_random)) if drops_random else None,
        "wilcoxon_p": float(stat.pvalue) if stat is not None else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("resources/models/default.cxm"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-set", type=int, default=30, help="test images per set (first N of the held-back split)")
    parser.add_argument("--protocols", nargs="+", default=list(DEFAULT_MODEL_PROTOCOLS),
                        help="whose test splits to use (a protocol model: its own protocol)")
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    parser.add_argument("--fit-to-stride", action="store_true",
                        help="count every image resized to whole output cells, whatever the model was trained with")
    parser.add_argument("--flips", type=int, default=1, choices=(1, 2, 4),
                        help="average every map over the image and its mirror images (inference.FLIP_AXES)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    model = load_model(args.model)
    counter = Counter(model, device="cpu", flips=args.flips, whole_cells=True if args.fit_to_stride else None)
    rng = np.random.default_rng(0)
    report = {"model": str(args.model), "whole_cells": counter.whole_cells,
              "flips": args.flips, "sets": {}}
    for name in args.protocols:
        dataset_name, quality = set_quality(counter, args.data, name, args.seed, args.per_set, rng)
        report["sets"][dataset_name] = quality
        print(dataset_name, quality, flush=True)
    report["diversity"] = intra_group_distances(model.network.head.prototypes.detach(), model.config.k_cell)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sys.exit(main())
