"""File › Export explanation figures for all images: one figure job per listed image, and its outcome.

Every image's figure is written as ``<name>-explanation.png`` and ``.json``; ``explanation_names``
gives each image of the batch a name of its own, so no figure of a batch replaces another (two
``a.png`` from different folders, or ``a.png`` beside ``a.tif``). The jobs run one at a time on the
session's job runner, behind the counts; "Cancel counting" stops those still to come.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal


def _clashes(names: dict[str, str]) -> list[list[str]]:
    """Groups of paths whose names are the same (ignoring case: most desktop file systems do)."""
    groups: dict[str, list[str]] = {}
    for path, name in names.items():
        groups.setdefault(name.casefold(), []).append(path)
    return [group for group in groups.values() if len(group) > 1]


def _told_apart(group: list[str], names: dict[str, str]) -> None:
    """Add to each name of a clashing group its folder's name where those differ, else its file type,
    else both."""
    folders = [Path(p).parent.name for p in group]
    types = [Path(p).suffix.lstrip(".") for p in group]
    for path, folder, kind in zip(group, folders, types):
        parts = [names[path]]
        if len(set(folders)) == len(group) or len(set(types)) < len(group):
            parts.append(folder)
        if len(set(folders)) < len(group):
            parts.append(kind)
        names[path] = "-".join(part for part in parts if part)


def explanation_names(paths) -> dict[str, str]:
    """A distinct output name for each image path, in the order given: the file's stem where no other
    image of the batch has it; otherwise the stem with the folder's name (``a-day1``), the file type
    (``a-tif``) or both, and where names still clash a number (``a-2``)."""
    paths = list(dict.fromkeys(str(p) for p in paths))
    names = {path: Path(path).stem for path in paths}
    for group in _clashes(names):
        _told_apart(group, names)
    taken: set[str] = set()
    for path in paths:
        name, number = names[path], 2
        while name.casefold() in taken:
            name, number = f"{names[path]}-{number}", number + 1
        taken.add(name.casefold())
        names[path] = name
    return names


@dataclass
class BatchOutcome:
    """What a whole list's export came to: the figures written, the images that failed and why, and
    how many were cancelled before they were written."""

    folder: str
    total: int
    written: list[tuple[str, str]] = field(default_factory=list)  # (figure, json) per image written
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image path, reason)
    cancelled: int = 0

    @property
    def answered(self) -> int:
        return len(self.written) + len(self.failed) + self.cancelled

    def message(self) -> str:
        """The status-bar line shown when every image is answered."""
        text = f"Explanation figures of {len(self.written)} image(s) written to {self.folder}"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        if self.cancelled:
            text += f"; {self.cancelled} cancelled"
        return text

    def failure_report(self) -> str:
        """One line per image that failed: its file name and the reason."""
        return "\n".join(f"{Path(path).name}: {reason}" for path, reason in self.failed)


class ExplainBatch(QObject):
    """The figure jobs of one export of a whole list, queued through the session; reports progress and,
    once every image is answered (written, failed or cancelled), the outcome."""

    sigProgress = Signal(int, int)  # images answered, total
    sigFinished = Signal(object)  # BatchOutcome

    def __init__(self, session, paths, out_dir: str | Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.names = explanation_names(paths)
        self.outcome = BatchOutcome(str(out_dir), len(self.names))

    def start(self) -> None:
        """Queue one job per image; nothing runs on the calling (GUI) thread."""
        folder = self.outcome.folder
        for path, name in self.names.items():
            self.session.queue_explanation(
                path, folder, name,
                ok=lambda paths: self._answered(written=(str(paths[0]), str(paths[1]))),
                error=lambda message, p=path: self._answered(failed=(p, message)),
                cancelled=lambda: self._answered(cancelled=True))

    @property
    def finished(self) -> bool:
        return self.outcome.answered >= self.outcome.total

    def _answered(self, written=None, failed=None, cancelled: bool = False) -> None:
        outcome = self.outcome
        if written is not None:
            outcome.written.append(written)
        if failed is not None:
            outcome.failed.append(failed)
        outcome.cancelled += int(cancelled)
        self.sigProgress.emit(outcome.answered, outcome.total)
        if self.finished:
            self.sigFinished.emit(outcome)
