"""Opening what the user points at: dropped or chosen images and folders, the bundled samples, model files."""

from __future__ import annotations

from pathlib import Path

from countxplain.resources import sample_images, sample_images_dir

from .open_dialogs import choose_folder, choose_images, choose_model
from .paths import folder_images
from .recent_folders import RecentFolders

IMAGE_KINDS = "PNG, JPEG, BMP or TIFF"


def holds_images(folder: Path) -> bool:
    """Whether opening the folder lists anything; stops at the first image."""
    return next(folder_images(folder), None) is not None


def no_images_message(folders: list[str]) -> str:
    names = ", ".join(folders)
    holds = "holds" if len(folders) == 1 else "hold"
    return f"Nothing to open: {names} {holds} no {IMAGE_KINDS} images (subfolders included)."


class Opener:
    """Turns File › Open, drops and the sample menu into session requests; remembers the last folder and
    the recent ones."""

    def __init__(self, window, session, settings, browser, status) -> None:
        self.window, self.session, self.settings = window, session, settings
        self.browser, self.status = browser, status
        self.recent = RecentFolders(settings)

    def open_paths(self, paths) -> list[str]:
        """List and count files and folders (as from a drop or File › Open)."""
        paths = [str(p) for p in paths]
        added = self.session.add_paths(paths)
        if paths:
            first = Path(paths[0])
            self.settings.last_folder = str(first if first.is_dir() else first.parent)
            self.recent.note_opened([p for p in paths if Path(p).exists()])
        if empty := [p for p in paths if Path(p).is_dir() and not holds_images(Path(p))]:
            self.status.showMessage(no_images_message(empty), 15000)
        return added

    def open_samples(self) -> list[str]:
        """List and count the dsb2018 sample images that ship with the app (dot annotations beside them),
        and show the first."""
        samples = [str(p) for p in sample_images()]
        if not samples:
            self.status.show_error_message(f"No sample images found in {sample_images_dir()}")
            return []
        added = self.session.add_paths(samples)
        self.browser.select(samples[0])
        return added

    def ask_images(self) -> None:
        self.open_paths(choose_images(self.window, self.settings.last_folder))

    def ask_folder(self) -> None:
        self.open_paths(choose_folder(self.window, self.settings.last_folder))

    def ask_model(self) -> None:
        if path := choose_model(self.window, self.settings.last_folder):
            self.open_model(path)

    def open_model(self, path: str | Path) -> None:
        self.session.load_model(path, user=True)
