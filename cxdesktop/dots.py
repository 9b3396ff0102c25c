"""One image's dot annotation (Qt-free): the dots, undo/redo, and the sidecar file kept in step.

Dots are (x, y) in the pixel convention of ``countxplain.annotations``: the dot of pixel
(column c, row r) is (c, r), so the image spans -0.5 .. width - 0.5. Every change is
written at once to the sidecar ``<stem>.dots.csv`` beside the image (``<file name>.dots.csv``
where two images share the stem: ``countxplain.datasets.sidecar_path``) with ``write_dots_csv``,
which writes a temporary file and renames it into place: a crash or a kill at any moment
leaves the previous file or the new one, never a torn one, and nothing is lost but the change
being written.

A sidecar that cannot be read is never overwritten: the first change copies it, byte for byte,
to a new ``<name>.dots.unreadable-<date>-<time>.csv`` beside it, then starts a new sidecar, and
``notice`` says where the copy is. If the copy cannot be made, nothing is written.

Each dot has a counter type (a name, ``DEFAULT_DOT_TYPE`` unless chosen), saved in the sidecar's
``type`` column; a sidecar of ``x,y`` alone reads as dots of the default type.

A write that fails with ``OSError`` (read-only folder, full disk) keeps the change in
memory, records the reason in ``save_error`` and returns False; the next change tries
again. An eraser stroke (``begin_stroke`` … ``end_stroke``) is one undo step and one write.
"""

from __future__ import annotations

import os
import time
from itertools import count
from pathlib import Path

import numpy as np

from countxplain.annotations import DEFAULT_DOT_TYPE, read_dot_types, read_dots, write_dots_csv
from countxplain.datasets import SIDECAR_SUFFIX, FolderImages, sidecar_path
from countxplain.errors import CountXplainError

UNDO_DEPTH = 500
NOT_ANNOTATED: dict = {}  # cached in ImageEntry.dot_counts for an image without a dot file (compared by identity)
_EMPTY = np.zeros((0, 2), dtype=np.float64)
State = tuple[np.ndarray, np.ndarray]  # (N, 2) dots, (N,) type names


class DotAnnotation:
    def __init__(self, image_path: str | Path, dots: np.ndarray | None = None, types=None) -> None:
        self.image_path = Path(image_path)
        self.sidecar = sidecar_path(self.image_path)  # fixed once: the file read is the file written
        self._dots = _as_dots(dots)
        self._types = _as_types(types, len(self._dots))
        self._undo: list[State] = []
        self._redo: list[State] = []
        self._stroke_start: State | None = None
        self.save_error: str | None = None
        self.load_error: str | None = None
        self.kept_copy: Path | None = None  # where the sidecar that could not be read was copied
        self._shared_sidecar: Path | None = None  # the '<stem>.dots.csv' this image once shared with a twin

    @classmethod
    def open(cls, image_path: str | Path) -> "DotAnnotation":
        """The image's annotation from its sidecar (empty if there is none or it cannot be read:
        then ``load_error`` says why, and the file is copied aside at the first change)."""
        annotation = cls(image_path)
        if annotation.sidecar.exists():
            try:
                dots, types = read_dot_types(annotation.sidecar)
                annotation._dots, annotation._types = _as_dots(dots), _as_types(types, len(dots))
            except (CountXplainError, OSError) as error:  # a malformed or unreadable file: shown to the user
                annotation.load_error = str(error)
        else:
            annotation._shared_sidecar = _former_shared_sidecar(annotation.image_path, annotation.sidecar)
        return annotation

    # ---- reading ----
    @property
    def notice(self) -> str | None:
        """What the user should know about where the dots are, or None."""
        name = self.sidecar.name
        if self.kept_copy is not None:
            return (f"{name} could not be read: it is kept unchanged as {self.kept_copy.name}, "
                    f"and the dots are now saved in a new {name}.")
        if self._shared_sidecar is not None and not self.sidecar.exists():
            images = " and ".join(FolderImages.of(self.image_path.parent).sharing(self.image_path.stem))
            return (f"{self._shared_sidecar.name} may hold this image's dots: {images} shared it, and now each "
                    f"has its own file (this one: {name}). If they are this image's, Import… them.")
        return None

    @property
    def dots(self) -> np.ndarray:
        """(N, 2) float64 (x, y); a copy, so callers cannot change it behind the undo history."""
        return self._dots.copy()

    @property
    def types(self) -> list[str]:
        """Each dot's counter type, in the order of ``dots``."""
        return self._types.tolist()

    def type_counts(self) -> dict[str, int]:
        """How many dots of each type, types in the order they first appear."""
        names, first, counts = np.unique(self._types, return_index=True, return_counts=True)
        return {str(names[i]): int(counts[i]) for i in np.argsort(first)}

    def __len__(self) -> int:
        return len(self._dots)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def nearest(self, x: float, y: float, radius: float) -> int | None:
        """Index of the dot nearest (x, y) within ``radius``, or None."""
        if not len(self._dots):
            return None
        distances = np.hypot(self._dots[:, 0] - x, self._dots[:, 1] - y)
        index = int(np.argmin(distances))
        return index if distances[index] <= radius else None

    # ---- changes (each one undoable and saved) ----
    def add(self, x: float, y: float, dot_type: str = DEFAULT_DOT_TYPE) -> bool:
        return self._commit(np.vstack([self._dots, [[float(x), float(y)]]]), np.append(self._types, dot_type))

    def move(self, index: int, x: float, y: float) -> bool:
        """Move one dot (it keeps its type): one undo step."""
        dots = self._dots.copy()
        dots[index] = (float(x), float(y))
        return self._commit(dots, self._types)

    def set_type(self, index: int, dot_type: str) -> bool:
        """Give one dot another counter type: one undo step (none if it has that type already)."""
        if self._types[index] == dot_type:
            return True
        types = self._types.copy()
        types[index] = dot_type
        return self._commit(self._dots, types)

    def rename_type(self, old: str, new: str) -> bool:
        """Give the dots of type ``old`` the type ``new`` (one undo step); True if there were none."""
        if old not in self._types:
            return True
        return self._commit(self._dots, np.where(self._types == old, new, self._types).astype(object))

    def remove_near(self, x: float, y: float, radius: float) -> bool:
        """Remove the dot nearest (x, y) within ``radius``; False (and no undo step) if there is none."""
        index = self.nearest(x, y, radius)
        if index is None:
            return False
        return self._commit(np.delete(self._dots, index, axis=0), np.delete(self._types, index))

    def replace(self, dots: np.ndarray, types=None, dot_type: str = DEFAULT_DOT_TYPE) -> bool:
        """All dots at once (import, proposal, clear), of ``types`` or all ``dot_type``: one undo step."""
        dots = _as_dots(dots)
        return self._commit(dots, _as_types(types, len(dots), dot_type))

    def begin_stroke(self) -> None:
        self._stroke_start = (self._dots, self._types)

    def erase(self, x: float, y: float, radius: float) -> int:
        """Remove every dot within ``radius`` of (x, y); inside a stroke it is saved at ``end_stroke``."""
        if not len(self._dots):
            return 0
        keep = np.hypot(self._dots[:, 0] - x, self._dots[:, 1] - y) > radius
        removed = int((~keep).sum())
        if removed:
            if self._stroke_start is None:
                self._commit(self._dots[keep], self._types[keep])
            else:
                self._dots, self._types = self._dots[keep], self._types[keep]
        return removed

    def end_stroke(self) -> bool:
        start, self._stroke_start = self._stroke_start, None
        if start is None or len(start[0]) == len(self._dots):
            return True
        self._push_undo(start)
        self._redo.clear()
        return self.save()

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append((self._dots, self._types))
        self._dots, self._types = self._undo.pop()
        return self.save()

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append((self._dots, self._types))
        self._dots, self._types = self._redo.pop()
        return self.save()

    # ---- the sidecar ----
    def save(self) -> bool:
        """Write the sidecar atomically; False (with ``save_error``) if the file system refused."""
        if self.load_error and not self._keep_unreadable_sidecar():
            return False
        try:
            write_dots_csv(self.sidecar, self._dots, self.types)
        except OSError as error:
            self.save_error = f"{self.sidecar}: {error.strerror or error}"
            return False
        self.save_error = None
        return True

    def _keep_unreadable_sidecar(self) -> bool:
        """Copy the sidecar that could not be read aside before the first write replaces it;
        False (with ``save_error``, nothing written) if the copy cannot be made."""
        try:
            self.kept_copy = copy_aside(self.sidecar) if self.sidecar.exists() else None
        except OSError as error:
            self.save_error = (f"{self.sidecar.name} could not be read, nor copied aside ({error.strerror or error}), "
                               "so it is left as it is and the changes are not saved.")
            return False
        self.load_error = None
        return True

    def export_csv(self, path: str | Path) -> Path:
        path = Path(path)
        write_dots_csv(path, self._dots, self.types)
        return path

    def _commit(self, dots: np.ndarray, types: np.ndarray) -> bool:
        self._push_undo((self._dots, self._types))
        self._redo.clear()
        self._dots, self._types = dots, types
        return self.save()

    def _push_undo(self, state: State) -> None:
        self._undo.append(state)
        del self._undo[:-UNDO_DEPTH]


def _as_dots(dots) -> np.ndarray:
    if dots is None:
        return _EMPTY.copy()
    return np.asarray(dots, dtype=np.float64).reshape(-1, 2).copy()


def _as_types(types, n: int, default: str = DEFAULT_DOT_TYPE) -> np.ndarray:
    names = np.full(n, default, dtype=object) if types is None else np.array(list(types), dtype=object)
    if len(names) != n:
        raise ValueError(f"{n} dots but {len(names)} types")
    return names


def copy_aside(sidecar: Path) -> Path:
    """Copy a sidecar byte for byte to a new ``<name>.dots.unreadable-<date>-<time>[-n].csv`` beside it,
    never over an existing file; the copy is on disk when this returns."""
    data = sidecar.read_bytes()
    base = sidecar.name[:-len(SIDECAR_SUFFIX)] + ".dots.unreadable-" + time.strftime("%Y%m%d-%H%M%S")
    for n in count(1):
        copy = sidecar.with_name(base + (f"-{n}" if n > 1 else "") + ".csv")
        try:
            file = open(copy, "xb")
        except FileExistsError:
            continue
        try:
            with file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        except OSError:
            copy.unlink(missing_ok=True)
            raise
        return copy


def _former_shared_sidecar(image_path: Path, sidecar: Path) -> Path | None:
    """The ``<stem>.dots.csv`` that an image with a same-stem twin used to share with it (before
    each got its own sidecar), if it is there: it may hold this image's dots."""
    shared = image_path.with_name(image_path.stem + SIDECAR_SUFFIX)
    return shared if shared != sidecar and shared.exists() else None


def count_sidecar_dots(image_path: str | Path, sidecar: Path | None = None) -> int | None:
    """The number of dots in an image's sidecar (``sidecar``, if known), or None if it has none
    (or it cannot be read)."""
    sidecar = sidecar or sidecar_path(image_path)
    if not sidecar.exists():
        return None
    try:
        return len(read_dots(sidecar))
    except (CountXplainError, OSError):
        return None


def sidecar_type_counts(image_path: str | Path) -> dict[str, int] | None:
    """Dots per counter type in an image's sidecar, or None if it has none (or it cannot be read)."""
    sidecar = sidecar_path(image_path)
    if not sidecar.exists():
        return None
    try:
        dots, types = read_dot_types(sidecar)
    except (CountXplainError, OSError):
        return None
    return DotAnnotation(image_path, dots, types).type_counts()


def entry_dot_counts(entry) -> dict[str, int] | None:
    """Dots per counter type of a listed image (``store.ImageEntry``); None: not annotated (no dot file). An
    image whose dots are not open yet is read from its sidecar once."""
    if entry.dots is not None:
        return entry.dots.type_counts() if len(entry.dots) or entry.dots.sidecar.exists() else None
    if entry.dot_counts is None:
        counts = sidecar_type_counts(entry.path)
        entry.dot_counts = NOT_ANNOTATED if counts is None else counts
    return None if entry.dot_counts is NOT_ANNOTATED else entry.dot_counts
