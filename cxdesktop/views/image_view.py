"""The image with its layers: pixels, density overlay, prototype similarity and boxes.

One pyqtgraph ``ImageItem`` per layer, all with fixed levels (never auto-levels): the
image's levels come from the contrast control; the density's from the colour bar, fitted to
each image's density unless the user holds the scale ("Hold scale", ticked by dragging the
bar), so densities can be compared across images on one scale; a similarity map's from
that map when it is shown, with a colour bar of its own in the density bar's place. A badge
on the canvas names the map shown (``MapBadge``). View coordinates are original image
pixels. Everything shown belongs to ``self.path``; calls for another path are ignored.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from .contrast import ContrastControl
from .map_badge import MapBadge
from .overlay_controls import OverlayControls
from .plane_picker import PlanePicker
from .tool_viewbox import ToolViewBox

DENSITY_UNITS = "cells / pixel"
SIMILARITY_UNITS = "similarity, log((d + 1) / (d + ε))"
BADGE_MARGIN = 8


def overlay_colormap(name: str) -> pg.ColorMap:
    """``name`` with its lowest values faded to transparent, so empty areas show the image."""
    cmap = pg.colormap.get(name)
    colors = cmap.getColors(mode="byte").copy()
    pos = np.asarray(cmap.pos, dtype=float)
    colors[:, 3] = (np.clip(pos / 0.4, 0.0, 1.0) * 255).astype(np.uint8)
    return pg.ColorMap(pos, colors)


def ramp_colormap(color: QColor) -> pg.ColorMap:
    """Transparent to ``color``: a prototype's similarity drawn in the prototype's own colour."""
    r, g, b = color.red(), color.green(), color.blue()
    return pg.ColorMap([0.0, 1.0], [(r, g, b, 0), (r, g, b, 235)])


class SmoothImageItem(pg.ImageItem):
    """An ImageItem drawn with bilinear smoothing: the density map has one value per 8 × 8 (or more)
    image pixels, and blocks would suggest a precision it does not have."""

    def paint(self, painter, *args) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        super().paint(painter, *args)


def density_per_pixel(result) -> np.ndarray:
    """Cells per original pixel: a density cell covers ``cell_area_px`` original pixels."""
    return (result.density / result.cell_area_px).astype(np.float32)


class ImageView(QWidget):
    sigDensityRequested = Signal()  # the badge's "Show density": back from a prototype's map

    def __init__(self, colormap: str = "inferno", opacity: float = 0.6, parent=None) -> None:
        super().__init__(parent)
        self.path: str | None = None
        self.prototype: int | None = None  # the prototype whose similarity is shown
        self._density: np.ndarray | None = None
        self._add_layers()
        self._add_colour_bars(colormap)
        self._add_canvas_labels()
        self._add_controls(opacity, colormap)
        self._connect_controls(opacity)

    def _add_layers(self) -> None:
        """The canvas and its view box with the image, density (clipped to the image) and similarity layers."""
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setObjectName("imageCanvas")
        self.canvas.setAcceptDrops(False)
        self.canvas.setBackground("#1e1e1e")
        self.viewbox = ToolViewBox()
        self.canvas.addItem(self.viewbox, row=0, col=0)
        self.image_item = pg.ImageItem(autoLevels=False)
        self.density_item = SmoothImageItem(autoLevels=False)
        # the density's last row and column of cells reach over the padding beyond the image
        self.density_clip = QGraphicsRectItem()
        self.density_clip.setPen(QPen(Qt.PenStyle.NoPen))
        self.density_clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self.density_clip.setZValue(10)
        self.density_item.setParentItem(self.density_clip)
        self.similarity_item = pg.ImageItem(autoLevels=False)
        self.similarity_item.setZValue(11)
        self.similarity_item.hide()
        for item in (self.image_item, self.density_clip, self.similarity_item):
            self.viewbox.addItem(item)
        self._prototype_boxes: list[QGraphicsRectItem] = []

    def _add_colour_bars(self, colormap: str) -> None:
        """The density's colour bar beside the image and the similarity's, which takes its place when shown."""
        self.colorbar = pg.ColorBarItem(values=(0.0, 0.01), colorMap=overlay_colormap(colormap), label=DENSITY_UNITS,
                                        interactive=True, width=14, rounding=1e-6, colorMapMenu=False)
        self.colorbar.setImageItem(self.density_item)
        self.colorbar.axis.setWidth(60)  # room for labels such as 0.0125 in wide fonts
        policy = self.colorbar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the image keeps its place when the bar hides
        self.colorbar.setSizePolicy(policy)
        self.colorbar.hide()  # until there is a density to scale
        self.canvas.addItem(self.colorbar, row=0, col=1)
        self.similarity_bar = pg.ColorBarItem(values=(0.0, 1.0), label=SIMILARITY_UNITS, interactive=False, width=14,
                                              colorMapMenu=False)
        self.similarity_bar.axis.setWidth(60)
        self.similarity_bar.hide()
        self.canvas.addItem(self.similarity_bar, row=0, col=2)  # in the density bar's place: see _bar_for_similarity

    def _add_canvas_labels(self) -> None:
        """The badge naming the map shown (bottom left) and the message line (top left), over the canvas."""
        self.badge = MapBadge(self.canvas)
        self.badge.hide()
        self.badge.sigDensityRequested.connect(self.sigDensityRequested)
        self.canvas.installEventFilter(self)

        self.message = QLabel(self.canvas)
        self.message.setObjectName("imageMessage")
        self.message.setStyleSheet("QLabel { color: #eee; background: rgba(0,0,0,150); padding: 4px; }")
        self.message.move(8, 8)
        self.message.hide()

    def _add_controls(self, opacity: float, colormap: str) -> None:
        """The overlay controls with Fit view, and the contrast control, in rows under the canvas."""
        self.overlay = OverlayControls(opacity, colormap)
        self.contrast = ContrastControl()
        self.planes = PlanePicker()
        self.reset_button = QToolButton()
        self.reset_button.setText("Fit view")
        self.reset_button.setToolTip("Show the whole image (Ctrl+0)")
        overlay_row = QHBoxLayout()
        overlay_row.setContentsMargins(4, 2, 4, 0)
        overlay_row.addWidget(self.overlay)
        overlay_row.addStretch(1)
        overlay_row.addWidget(self.planes)
        overlay_row.addWidget(self.reset_button)
        contrast_row = QHBoxLayout()
        contrast_row.setContentsMargins(4, 0, 4, 2)
        contrast_row.addWidget(self.contrast, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(overlay_row)
        layout.addLayout(contrast_row)

    def _connect_controls(self, opacity: float) -> None:
        """The overlays' starting opacity, and the controls wired to the layers they set."""
        self.density_item.setOpacity(opacity)
        self.similarity_item.setOpacity(max(opacity, 0.5))
        self.overlay.sigVisibleChanged.connect(self._density_visible)
        self.overlay.sigOpacityChanged.connect(self.set_opacity)
        self.overlay.sigColormapChanged.connect(self.set_colormap)
        self.overlay.sigFitLevels.connect(self.fit_density_levels)
        self.colorbar.sigLevelsChangeFinished.connect(lambda _bar: self.overlay.hold.setChecked(True))
        self.contrast.sigLevelsChanged.connect(lambda lo, hi: self.image_item.setLevels((lo, hi)))
        self.reset_button.clicked.connect(self.reset_view)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.canvas and event.type() == QEvent.Type.Resize:
            self._place_badge()
        return super().eventFilter(watched, event)

    def _place_badge(self) -> None:
        self.badge.adjustSize()
        self.badge.move(BADGE_MARGIN, self.canvas.height() - self.badge.height() - BADGE_MARGIN)

    def _bar_for_similarity(self, similarity: bool) -> None:
        """One colour bar shows, the shown map's; the hidden density bar keeps its room only when no bar shows."""
        policy = self.colorbar.sizePolicy()
        policy.setRetainSizeWhenHidden(not similarity)
        self.colorbar.setSizePolicy(policy)
        self.similarity_bar.setVisible(similarity)

    def _show_badge(self) -> None:
        """The badge names what is drawn: the prototype's map, the density, or nothing."""
        if self.similarity_item.isVisible():
            self.badge.setVisible(True)
        elif self.density_item.isVisible():
            self.badge.show_density()
            self.badge.setVisible(True)
        else:
            self.badge.hide()
        self._place_badge()

    # ---- the image ----
    def show_image(self, path: str, pixels: np.ndarray) -> None:
        """Show a new image (or the same one again) and clear its overlays."""
        same_size = self.image_item.image is not None and self.image_item.image.shape[:2] == pixels.shape[:2]
        new_image = path != self.path
        self.path = path
        first_time = new_image or self.image_item.image is None
        levels = self.contrast.set_data(pixels) if first_time else self.contrast.levels()
        self.image_item.setImage(pixels, autoLevels=False, levels=levels)
        image_rect = QRectF(0, 0, pixels.shape[1], pixels.shape[0])
        self.image_item.setRect(image_rect)
        self.density_clip.setRect(image_rect)
        if new_image:
            self.clear_overlays()
        if not same_size:
            self.reset_view()
        self.set_message("")

    def clear(self, message: str = "") -> None:
        self.path = None
        self.image_item.clear()
        self.clear_overlays()
        self.set_message(message)

    def set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.adjustSize()
        self.message.setVisible(bool(text))

    def reset_view(self) -> None:
        if self.image_item.image is not None:
            self.viewbox.autoRange(items=[self.image_item], padding=0.02)

    # ---- density overlay ----
    def show_density(self, path: str, result) -> None:
        if path != self.path:
            return
        density = density_per_pixel(result)
        self._density = density
        cell_h, cell_w = result.cell_px
        self.density_item.setImage(density, autoLevels=False, levels=self.colorbar.levels())
        self.density_item.setRect(QRectF(0, 0, density.shape[1] * cell_w, density.shape[0] * cell_h))
        if not self.overlay.hold.isChecked():
            self.fit_density_levels()
        self.colorbar.setVisible(not self.similarity_item.isVisible())
        self.density_item.setVisible(self.overlay.visible.isChecked() and not self.similarity_item.isVisible())
        self._show_badge()

    def fit_density_levels(self) -> None:
        if self._density is None or self._density.size == 0:
            return
        high = float(np.percentile(self._density, 99.9))
        high = high if high > 0 else float(self._density.max()) or 1e-3
        self.colorbar.rounding = high / 500
        self.colorbar.setLevels((0.0, high))

    def set_opacity(self, value: float) -> None:
        self.density_item.setOpacity(value)
        self.similarity_item.setOpacity(max(value, 0.5))

    def set_colormap(self, name: str) -> None:
        self.colorbar.setColorMap(overlay_colormap(name))

    def _density_visible(self, visible: bool) -> None:
        self.density_item.setVisible(visible and self._density is not None and not self.similarity_item.isVisible())
        self._show_badge()

    def toggle_density(self) -> None:
        self.overlay.visible.toggle()

    # ---- prototype similarity ----
    def show_similarity(self, path: str, prototype: int, similarity: np.ndarray, boxes, color: QColor,
                        name: str = "") -> None:
        """A prototype's similarity map (H, W) in its colour, with its boxes and its own colour bar, instead
        of the density; ``name`` is the prototype's, for the badge."""
        if path != self.path:
            return
        self.clear_similarity()
        self.prototype = prototype
        lo, hi = float(np.percentile(similarity, 50)), float(similarity.max())
        levels = (lo, hi if hi > lo else lo + 1e-6)
        ramp = ramp_colormap(color)
        self.similarity_item.setImage(similarity, autoLevels=False, levels=levels)
        self.similarity_item.setLookupTable(ramp.getLookupTable(nPts=256, alpha=True))
        self.similarity_item.setRect(QRectF(0, 0, similarity.shape[1], similarity.shape[0]))
        self.similarity_item.show()
        self.density_item.hide()
        self.colorbar.hide()  # its scale is the density's
        self.similarity_bar.setColorMap(ramp)
        self.similarity_bar.setLevels(levels)
        self._bar_for_similarity(True)
        self.badge.show_similarity(name or f"prototype {prototype}")
        self._show_badge()
        pen = QPen(color, 2)
        pen.setCosmetic(True)
        for x0, y0, x1, y1 in boxes:
            rect = QGraphicsRectItem(x0, y0, x1 - x0, y1 - y0)
            rect.setPen(pen)
            rect.setZValue(12)
            self.viewbox.addItem(rect)
            self._prototype_boxes.append(rect)

    def clear_similarity(self) -> None:
        self.prototype = None
        self.similarity_item.hide()
        for rect in self._prototype_boxes:
            self.viewbox.removeItem(rect)
        self._prototype_boxes.clear()
        self._bar_for_similarity(False)
        self.colorbar.setVisible(self._density is not None)
        self.density_item.setVisible(self.overlay.visible.isChecked() and self._density is not None)
        self._show_badge()

    def prototype_box_count(self) -> int:
        return len(self._prototype_boxes)

    def clear_overlays(self) -> None:
        self.clear_similarity()
        self._density = None
        self.density_item.clear()
        self.density_item.hide()
        self.colorbar.hide()
        self.badge.hide()
