"""The prototype gallery: for every prototype, the training patches it stands for.

Grouped "Cell prototypes" / "Background prototypes", each row in the prototype's colour,
each patch captioned with its similarity (tooltip: the training image and position). The first
patch, the one the prototype was projected onto (distance 0, so its similarity is merely the largest
possible), is captioned "prototype" instead. Where training measured it (projection by box purity),
each prototype's name also says how pure its explanation boxes were on training images.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from ..palette import long_name, prototype_color

PATCH_DISPLAY_PX = 72
SIMILARITY_EPSILON = 1e-4  # countxplain.network.SIMILARITY_EPSILON (that module would import torch here)
# Similarity log((d + 1) / (d + ε)) of a squared distance d of 1e-5: its own patch comes out at
# d ≈ 1e-7 (float32 rounding), other patches at d ≥ 1e-4 (similarity ≤ 8.5).
OWN_PATCH_SIMILARITY = math.log((1e-5 + 1.0) / (1e-5 + SIMILARITY_EPSILON))
OWN_PATCH_TIP = "The training patch this prototype was projected onto: the prototype is this patch's features."
NO_GALLERY = ("This model file has no prototype gallery, so there are no training patches to show.\n"
              "(A gallery is stored when a model is trained with CountXplain.)")


def training_box_purity(info, prototype: int) -> float | None:
    """The share of a prototype's boxes on training images that were pure (a cell box holding a
    dot, a background box none), as recorded when it was projected; None where not recorded."""
    for source in (info.provenance or {}).get("prototype_sources") or []:
        if isinstance(source, dict) and source.get("prototype") == prototype:
            value = source.get("box_purity")
            return float(value) if isinstance(value, (int, float)) else None
    return None


def purity_caption(prototype: int, k_cell: int, purity: float) -> str:
    holds = "hold a dot" if prototype < k_cell else "hold no dot"
    return f"{purity:.0%} of its boxes on training images {holds}"


def is_own_patch(slot: int, similarity: float) -> bool:
    """Whether a gallery patch is the one its prototype was projected onto (the first, at distance ~0)."""
    return slot == 0 and similarity >= OWN_PATCH_SIMILARITY


def patch_caption(slot: int, similarity: float) -> QLabel:
    own = is_own_patch(slot, similarity)
    caption = QLabel("prototype" if own else f"sim {similarity:.2f}")
    if own:
        caption.setToolTip(OWN_PATCH_TIP)
    caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
    caption.setStyleSheet("color: #555; font-size: 10px;")
    return caption


def patch_pixmap(patch: np.ndarray, side: int = PATCH_DISPLAY_PX) -> QPixmap:
    patch = np.ascontiguousarray(patch[:, :, :3].astype(np.uint8))
    h, w = patch.shape[:2]
    image = QImage(patch.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation)


class GalleryView(QScrollArea):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("gallery")
        self.setWidgetResizable(True)
        self.message = QLabel("No model loaded yet.")
        self.set_model(None)

    def set_model(self, info) -> None:
        content = QWidget()
        layout = QVBoxLayout(content)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.groups: dict[str, QGroupBox] = {}
        if info is None:
            self.message.setText("No model loaded yet.")
            layout.addWidget(self.message)
        elif info.gallery_patches is None:
            self.message.setText(NO_GALLERY)
            layout.addWidget(self.message)
        else:
            for title, members in (("Cell prototypes", range(info.k_cell)),
                                   ("Background prototypes", range(info.k_cell, info.k_total))):
                group = self._group(title, members, info)
                self.groups[title] = group
                layout.addWidget(group)
        layout.addStretch(1)
        self.setWidget(content)

    def _group(self, title: str, members, info) -> QGroupBox:
        group = QGroupBox(title)
        grid = QGridLayout(group)
        grid.setHorizontalSpacing(6)
        for row, p in enumerate(members):
            color = prototype_color(p, info.k_cell)
            text = long_name(p, info.k_cell).replace(" prototype", "\nprototype")
            purity = training_box_purity(info, p)
            if purity is not None:
                text += f"\nboxes {purity:.0%} pure"
            name = QLabel(text)
            name.setObjectName(f"prototype-name-{p}")
            if purity is not None:
                name.setToolTip(purity_caption(p, info.k_cell, purity))
            name.setStyleSheet(f"QLabel {{ border-left: 6px solid {color.name()}; padding-left: 4px; }}")
            grid.addWidget(name, row, 0)
            patches = info.gallery_patches[p]
            sims = info.gallery_similarity[p] if info.gallery_similarity is not None else np.zeros(len(patches))
            sources = info.gallery_sources[p] if p < len(info.gallery_sources) else []
            for slot in range(patches.shape[0]):
                cell = QLabel()
                cell.setPixmap(patch_pixmap(patches[slot]))
                cell.setStyleSheet(f"QLabel {{ border: 2px solid {color.name()}; }}")
                source = sources[slot] if slot < len(sources) else ""
                caption = patch_caption(slot, float(sims[slot]))
                cell.setToolTip("\n".join(filter(None, (caption.toolTip(), source))))
                box = QVBoxLayout()
                box.setSpacing(1)
                box.addWidget(cell, 0, Qt.AlignmentFlag.AlignCenter)
                box.addWidget(caption)
                grid.addLayout(box, row, slot + 1)
        grid.setColumnStretch(grid.columnCount(), 1)
        return group
