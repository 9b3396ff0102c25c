"""File › Recent folders: the folders images were opened from, most recent first, at most ten.

A folder that no longer exists stays in the menu, disabled, with the reason in its tooltip, so
a disconnected drive's folder comes back when the drive does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QWidget

MAX_RECENT = 10


def with_folder_first(folders: list[str], folder: str, limit: int = MAX_RECENT) -> list[str]:
    """``folders`` with ``folder`` moved (or added) to the front, capped at ``limit``."""
    return [folder] + [f for f in folders if f != folder][:limit - 1]


def folder_of(path: str | Path) -> str:
    """The folder a path was opened from: itself for a folder, its parent for a file."""
    path = Path(path)
    return str((path if path.is_dir() else path.parent).resolve())


class RecentFolders:
    """The recent-folders list, kept in the settings."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def folders(self) -> list[str]:
        return self.settings.recent_folders[:MAX_RECENT]

    def note_opened(self, paths) -> None:
        """Remember the folders of opened files and folders (the first one opened ends up first)."""
        folders = self.settings.recent_folders
        for path in reversed([str(p) for p in paths]):
            folders = with_folder_first(folders, folder_of(path))
        self.settings.recent_folders = folders

    def clear(self) -> None:
        self.settings.recent_folders = []


class RecentFoldersMenu(QMenu):
    """The submenu; it is filled each time it opens. Choosing a folder sends ``sigFolderChosen``."""

    sigFolderChosen = Signal(str)

    def __init__(self, recent: RecentFolders, parent: QWidget | None = None,
                 exists: Callable[[str], bool] = lambda folder: Path(folder).is_dir()) -> None:
        super().__init__("Recent folders", parent)
        self.setObjectName("recentFoldersMenu")
        self.setToolTipsVisible(True)
        self.recent, self._exists = recent, exists
        self.aboutToShow.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        folders = self.recent.folders()
        for folder in folders:
            action = self.addAction(_menu_text(folder))
            action.setToolTip(folder)
            action.setData(folder)
            if not self._exists(folder):
                action.setEnabled(False)
                action.setToolTip(f"{folder} (no longer there)")
            action.triggered.connect(lambda _checked=False, f=folder: self.sigFolderChosen.emit(f))
        if not folders:
            self.addAction("No recent folders").setEnabled(False)
            return
        self.addSeparator()
        self.addAction("Clear the list", self._clear)

    def _clear(self) -> None:
        self.recent.clear()
        self.refresh()

    def folder_actions(self):
        """The menu's folder entries, in order (for tests and tooltips)."""
        return [action for action in self.actions() if action.data()]


def _menu_text(folder: str) -> str:
    path = Path(folder)
    text = f"{path.name or folder}  —  {path.parent}" if path.name else folder
    return text.replace("&", "&&")


def install_recent_menu(file_menu: QMenu, after, recent: RecentFolders) -> RecentFoldersMenu:
    """Put the Recent folders submenu into ``file_menu`` just after the action ``after``."""
    menu = RecentFoldersMenu(recent, file_menu)
    actions = file_menu.actions()
    index = actions.index(after) + 1 if after in actions else len(actions)
    if index < len(actions):
        file_menu.insertMenu(actions[index], menu)
    else:
        file_menu.addMenu(menu)
    return menu
