"""File → Open choosers: images, a folder of images, a model file. Each returns what was chosen."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QWidget

from countxplain.images import IMAGE_SUFFIXES


def choose_images(parent: QWidget, start: str) -> list[str]:
    patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
    files, _ = QFileDialog.getOpenFileNames(parent, "Open images", start, f"Images ({patterns});;All files (*)")
    return list(files)


def choose_folder(parent: QWidget, start: str) -> list[str]:
    folder = QFileDialog.getExistingDirectory(parent, "Open folder", start)
    return [folder] if folder else []


def choose_model(parent: QWidget, start: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, "Open model", start, "CountXplain models (*.cxm);;All files (*)")
    return path
