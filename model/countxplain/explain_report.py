"""The explanation figure (PNG) and its numbers (JSON) for one image, drawn with Pillow.

Panels: the image; the density map over it; each prototype's similarity map with its
99th-percentile boxes (cell prototypes framed orange, background prototypes blue); the
signed contribution of each prototype with its weight θ; the prototype gallery.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .annotations import atomic_write_bytes
from .explain import contributions, similarity_boxes, similarity_on_image
from .images import read_image
from .inference import Counter
from .modelfile import ModelBundle
from .naming import prototype_name
from .scale_policy import cell_size_note

CELL_COLOUR = (240, 140, 30)
BACKGROUND_COLOUR = (50, 120, 230)
PANEL = 256
MARGIN = 14
# anchor colours of a perceptually ordered map (dark violet -> yellow), interpolated
COLOUR_ANCHORS = np.array([(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)], dtype=float)


def colourise(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map values to uint8 RGB along ``COLOUR_ANCHORS``."""
    t = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1) * (len(COLOUR_ANCHORS) - 1)
    i = np.minimum(t.astype(int), len(COLOUR_ANCHORS) - 2)
    f = (t - i)[..., None]
    return (COLOUR_ANCHORS[i] * (1 - f) + COLOUR_ANCHORS[i + 1] * f).astype(np.uint8)


def group_colour(is_cell: bool) -> tuple[int, int, int]:
    return CELL_COLOUR if is_cell else BACKGROUND_COLOUR


def explanation_data(bundle: ModelBundle, image_path: Path, cell_diameter_px: float | None = None,
                     device: str = "cpu", estimate_cell_size: bool = False,
                     flips: int = 1, whole_cells: bool | None = None, counter: Counter | None = None,
                     cancel=None) -> tuple[np.ndarray, object, dict]:
    """The image's pixels, its count with similarity maps, and the figure's numbers.

    ``counter``: a counter already set up for ``bundle`` (the app's, reused for every figure);
    without one a counter is made on ``device`` with ``whole_cells``. ``cancel`` stops the count."""
    image = read_image(image_path)
    if counter is None:
        counter = Counter(bundle, device=device, flips=flips, whole_cells=whole_cells)
    result = counter.count(image.pixels, cell_diameter_px=cell_diameter_px, with_similarity=True,
                           estimate_cell_size=estimate_cell_size, flips=flips, cancel=cancel)
    parts = contributions(bundle, result)
    prototypes = []
    for k in range(bundle.config.k_total):
        prototypes.append({
            "index": k, "name": prototype_name(k, bundle.config.k_cell),
                           "group": "cell" if parts.is_cell[k] else "background",
            "weight": float(parts.weights[k]), "contribution": float(parts.values[k]),
            "boxes_99th_percentile": [list(b) for b in similarity_boxes(result, k)],
            "gallery_sources": (bundle.gallery.sources[k]
                                if bundle.gallery is not None and bundle.gallery.sources else []),
        })
    data = {"image": str(image_path), "width": image.width, "height": image.height, "model": bundle.name,
            "count": result.count, "bias_term": parts.bias_term, "scale": result.scale,
            "cell_diameter_px": result.cell_diameter_px, "cell_diameter_estimated": result.cell_diameter_estimated,
            "estimated_diameter_px": result.estimated_diameter_px, "device": result.device, "flips": result.flips,
            "whole_cells": result.whole_cells,
            "prototypes": prototypes}
    return image.pixels, result, data


def write_explanation(bundle: ModelBundle, image_path: str | Path, out_dir: str | Path,
                      cell_diameter_px: float | None = None, device: str = "cpu",
                      estimate_cell_size: bool = False, flips: int = 1,
                      whole_cells: bool | None = None, counter: Counter | None = None, name: str | None = None,
                      cancel=None) -> tuple[Path, Path]:
    """Write ``<name>-explanation.png`` and ``.json`` into ``out_dir``, each atomically (a file of an
    earlier export is replaced whole or not at all); ``name`` defaults to the image's stem."""
    image_path, out_dir = Path(image_path), Path(out_dir)
    pixels, result, data = explanation_data(bundle, image_path, cell_diameter_px, device, estimate_cell_size, flips,
                                            whole_cells, counter, cancel)
    figure = render_figure(bundle, pixels, result, data)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or image_path.stem
    png_path = out_dir / f"{name}-explanation.png"
    json_path = out_dir / f"{name}-explanation.json"
    import io

    buffer = io.BytesIO()
    figure.save(buffer, format="PNG")
    atomic_write_bytes(png_path, buffer.getvalue())
    atomic_write_bytes(json_path, json.dumps(data, indent=1).encode("utf-8"))
    return png_path, json_path


def _fit(array: np.ndarray, size: int):
    from PIL import Image

    image = Image.fromarray(array)
    scale = size / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.BILINEAR), scale


# the figure's font (Pillow's default) has no glyph for these
FIGURE_SUBSTITUTES = {"×": "x", "−": "-", "–": "-", "…": "..."}


def figure_title(data: dict, result) -> str:
    """The figure's first line: image, count, the cell size it was counted at, views averaged and model."""
    views = f"   {data['flips']} views averaged" if data.get("flips", 1) > 1 else ""
    title = (f"{Path(data['image']).name}   count {data['count']:.1f}   {cell_size_note(result)}{views}"
             f"   model: {data['model']}")
    return "".join(FIGURE_SUBSTITUTES.get(c, c) for c in title)


def render_figure(bundle: ModelBundle, pixels: np.ndarray, result, data: dict):
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=11)
    k_total = bundle.config.k_total
    per_row = max(4, min(k_total, 6))
    proto_size = 180
    gallery_k = 0 if bundle.gallery is None else bundle.gallery.patches.shape[1]
    rows_protos = -(-k_total // per_row)
    width = max(2 * PANEL + 3 * MARGIN + 420, per_row * (proto_size + MARGIN) + MARGIN)
    height = (MARGIN + 24 + PANEL + MARGIN + rows_protos * (proto_size + 40) + 40
              + (k_total * 62 // 2 + 60 if gallery_k else 30))
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    rgb = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    draw.text((MARGIN, MARGIN), figure_title(data, result), fill="black", font=font)
    top = MARGIN + 24
    image_panel, scale = _fit(rgb, PANEL)
    canvas.paste(image_panel, (MARGIN, top))
    draw.text((MARGIN, top + image_panel.height + 2), "image", fill="black", font=small)
    from .explain import upsample_to_image

    density_image = upsample_to_image(result.density, result) / result.cell_area_px
    hi = float(np.percentile(density_image, 99.5)) or 1e-6
    overlay = (0.45 * rgb + 0.55 * colourise(density_image, 0.0, hi)).astype(np.uint8)
    density_panel, _ = _fit(overlay, PANEL)
    x_density = 2 * MARGIN + PANEL
    canvas.paste(density_panel, (x_density, top))
    draw.text((x_density, top + density_panel.height + 2),
              f"density (0 to {hi:.3g} cells/pixel)", fill="black", font=small)
    _draw_contributions(draw, data, (3 * MARGIN + 2 * PANEL, top), 400, PANEL, small)
    y = top + PANEL + MARGIN + 16
    draw.text((MARGIN, y - 16), "prototype similarity maps with 99th-percentile boxes "
              "(orange: cell prototypes, blue: background prototypes)", fill="black", font=small)
    for k in range(k_total):
        col, row = k % per_row, k // per_row
        x0, y0 = MARGIN + col * (proto_size + MARGIN), y + row * (proto_size + 40)
        sim = similarity_on_image(result, k)
        panel = (0.5 * rgb + 0.5 * colourise(sim, float(sim.min()), float(sim.max()))).astype(np.uint8)
        tile, s = _fit(panel, proto_size)
        tile_draw = ImageDraw.Draw(tile)
        colour = group_colour(data["prototypes"][k]["group"] == "cell")
        for bx0, by0, bx1, by1 in data["prototypes"][k]["boxes_99th_percentile"]:
            tile_draw.rectangle([bx0 * s, by0 * s, max(bx0 * s, bx1 * s - 1), max(by0 * s, by1 * s - 1)],
                                outline=colour, width=2)
        canvas.paste(tile, (x0, y0))
        draw.rectangle([x0 - 2, y0 - 2, x0 + tile.width + 1, y0 + tile.height + 1], outline=colour, width=2)
        p = data["prototypes"][k]
        draw.text((x0, y0 + tile.height + 4), f"{p['name']} {p['group']}  c={p['contribution']:+.1f}", fill="black",
                  font=small)
    y += rows_protos * (proto_size + 40) + 10
    if gallery_k:
        _draw_gallery(canvas, draw, bundle, (MARGIN, y), small)
    else:
        draw.text((MARGIN, y), "this model file holds no prototype gallery", fill="black", font=small)
    return canvas


def _draw_contributions(draw, data, origin, width, height, font) -> None:
    x0, y0 = origin
    protos = data["prototypes"]
    values = [p["contribution"] for p in protos]
    extent = max(1e-9, max(abs(v) for v in values))
    draw.text((x0, y0), "contribution to the count (weight x summed similarity), signed", fill="black", font=font)
    bar_h = max(8, min(22, (height - 40) // max(1, len(protos)) - 4))
    mid = x0 + 60 + (width - 130) // 2
    half = (width - 130) // 2
    for i, p in enumerate(protos):
        y = y0 + 22 + i * (bar_h + 4)
        length = int(half * p["contribution"] / extent)
        colour = group_colour(p["group"] == "cell")
        draw.rectangle([min(mid, mid + length), y, max(mid, mid + length), y + bar_h], fill=colour)
        draw.text((x0, y), f"{p['name']} w={p['weight']:+.3g}", fill="black", font=font)
        draw.text((x0 + width - 66, y), f"{p['contribution']:+.1f}", fill="black", font=font)
    draw.line([mid, y0 + 20, mid, y0 + 22 + len(protos) * (bar_h + 4)], fill="black")
    draw.text((x0, y0 + 26 + len(protos) * (bar_h + 4)), f"bias term {data['bias_term']:+.2f}; "
              f"sum = count {data['count']:.1f}", fill="black", font=font)


def _draw_gallery(canvas, draw, bundle, origin, font) -> None:
    from PIL import Image

    x0, y0 = origin
    patches = bundle.gallery.patches.numpy()
    size = 56
    draw.text((x0, y0), "prototype gallery: the most similar training patches (one per image)", fill="black", font=font)
    y0 += 18
    half = -(-patches.shape[0] // 2)
    for k in range(patches.shape[0]):
        column, row = k // half, k % half
        x = x0 + column * (patches.shape[1] * (size + 4) + 120)
        y = y0 + row * (size + 6)
        colour = group_colour(k < bundle.config.k_cell)
        draw.text((x, y + size // 2 - 6), prototype_name(k, bundle.config.k_cell), fill=colour, font=font)
        for j in range(patches.shape[1]):
            tile = Image.fromarray(patches[k, j]).resize((size, size), Image.NEAREST)
            px = x + 60 + j * (size + 4)
            canvas.paste(tile, (px, y))
            draw.rectangle([px - 1, y - 1, px + size, y + size], outline=colour)
