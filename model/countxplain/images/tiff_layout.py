"""Where a TIFF series keeps its image plane (Y, X and samples S) and its other axes, which are pages: the plane of
one page picked out of any axis order, and three or four planes of a C axis read as colour channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from .refusals import MAX_VALUES_PER_PIXEL_LIMIT, check_page, pixel_limit


class TiffLayout:
    """Where a TIFF series keeps its image plane (Y, X, samples S) and its other axes (pages)."""

    def __init__(self, path: Path, axes: str, shape: tuple[int, ...]):
        self.path, self.axes, self.shape = path, axes, tuple(int(n) for n in shape)
        if "Y" not in axes or "X" not in axes or len(axes) != len(shape):
            raise ImageReadError(path, f"TIFF has no image plane (axes {axes})")
        self.height, self.width = self.shape[axes.index("Y")], self.shape[axes.index("X")]
        self.samples = self.shape[axes.index("S")] if "S" in axes else 1
        self.extra = [(i, a) for i, a in enumerate(axes) if a not in "YXS"]
        self.n_planes = int(np.prod([self.shape[i] for i, _ in self.extra])) if self.extra else 1
        self.channel_only = (len(self.extra) == 1 and self.extra[0][1] == "C" and "S" not in axes
                             and self.n_planes in (3, 4))
        page_axes = [a for a in axes if a in "YXS"]
        self.plane_shape = tuple(self.shape[axes.index(a)] for a in page_axes)

    def refuse_too_many_values(self) -> None:
        values = int(np.prod(self.shape))
        most = pixel_limit() * MAX_VALUES_PER_PIXEL_LIMIT
        if values > most:
            raise ImageReadError(self.path, f"TIFF is too large to read safely: its header declares {values:,} values "
                                            f"(shape {'×'.join(map(str, self.shape))}, axes {self.axes}), over the "
                                            f"limit of {most:,}")

    def _planes(self, data: np.ndarray) -> np.ndarray:
        order = ([i for i, _ in self.extra] + [self.axes.index("Y"), self.axes.index("X")]
                 + ([self.axes.index("S")] if "S" in self.axes else []))
        data = data.reshape(self.shape)
        planes = tuple(data.shape[i] for i in order[len(self.extra):])
        return np.transpose(data, order).reshape((self.n_planes,) + planes)

    def pick(self, data: np.ndarray, page: int | None) -> np.ndarray:
        """(H, W) or (H, W, C) of ``page``; 3 or 4 planes of a C axis are channels when no page is asked for."""
        planes = self._planes(data)
        if self.channel_only and page is None:
            return np.moveaxis(planes, 0, -1)
        if self.n_planes == 1:
            return planes[0]
        check_page(self.path, page, self.n_planes, f"pages/planes (axes {self.axes})")
        return planes[page]
