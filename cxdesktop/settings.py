"""Persistent preferences through QSettings: last folder, recent folders, window geometry, device, overlay
look; and the app's data folder, where the work kept between runs is saved."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from . import APP_NAME, ORGANISATION

DEFAULTS = {"last_folder": str(Path.home()), "device": "auto", "precision": "auto", "flips": 1, "overlay_opacity": 0.6,
            "colormap": "inferno"}
COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis", "turbo")


class Settings:
    """Typed accessors over QSettings; ``path`` stores to an INI file (tests, portable use), and then the
    data folder is beside it (``<name>-data``) instead of the user's application data folder."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = Path(path) if path is not None else None
        if path is not None:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings(ORGANISATION, APP_NAME)

    def data_folder(self) -> Path:
        """Where the app keeps its files (the saved session): QStandardPaths.AppDataLocation."""
        if self._path is not None:
            return self._path.with_name(f"{self._path.stem}-data")
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        return Path(location) if location else Path.home() / f".{ORGANISATION.lower()}"

    def _get(self, key: str, kind=str):
        value = self._qs.value(key, DEFAULTS.get(key))
        try:
            return kind(value) if value is not None else None
        except (TypeError, ValueError):
            return DEFAULTS.get(key)

    @property
    def last_folder(self) -> str:
        folder = self._get("last_folder")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    @last_folder.setter
    def last_folder(self, folder: str | Path) -> None:
        self._qs.setValue("last_folder", str(folder))

    @property
    def recent_folders(self) -> list[str]:
        """Folders images were opened from, most recent first (as stored; missing ones included)."""
        try:
            folders = json.loads(self._qs.value("recent_folders", "[]") or "[]")
        except (TypeError, ValueError):
            return []
        return [f for f in folders if isinstance(f, str)] if isinstance(folders, list) else []

    @recent_folders.setter
    def recent_folders(self, folders: list[str]) -> None:
        self._qs.setValue("recent_folders", json.dumps(list(folders)))

    @property
    def dot_types(self) -> list[str]:
        """The counter types the user has named, in their order (their colours follow it)."""
        try:
            names = json.loads(self._qs.value("dot_types", "[]") or "[]")
        except (TypeError, ValueError):
            return []
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    @dot_types.setter
    def dot_types(self, names: list[str]) -> None:
        self._qs.setValue("dot_types", json.dumps(list(names)))

    @property
    def device(self) -> str:
        device = self._get("device")
        return device if device in ("auto", "cpu", "cuda", "mps") else "auto"

    @device.setter
    def device(self, device: str) -> None:
        self._qs.setValue("device", device)

    @property
    def precision(self) -> str:
        precision = self._get("precision")
        return precision if precision in ("auto", "fp32", "bf16") else "auto"

    @precision.setter
    def precision(self, precision: str) -> None:
        self._qs.setValue("precision", precision)

    @property
    def flips(self) -> int:
        """How many views (the image alone, or with its three mirror images) the maps are averaged over: 1 or 4."""
        flips = self._get("flips", int)
        return flips if flips in (1, 4) else 1

    @flips.setter
    def flips(self, flips: int) -> None:
        self._qs.setValue("flips", int(flips))

    @property
    def overlay_opacity(self) -> float:
        value = self._get("overlay_opacity", float)
        return min(1.0, max(0.0, value if value is not None else DEFAULTS["overlay_opacity"]))

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self._qs.setValue("overlay_opacity", float(value))

    @property
    def colormap(self) -> str:
        name = self._get("colormap")
        return name if name in COLORMAPS else DEFAULTS["colormap"]

    @colormap.setter
    def colormap(self, name: str) -> None:
        self._qs.setValue("colormap", name)

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)

    def sync(self) -> None:
        self._qs.sync()
