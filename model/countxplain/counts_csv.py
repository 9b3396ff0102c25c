"""The counts CSV of ``countxplain count --out``: a row per counted image, on disk as soon as it is counted.

The header (and, on ``resume``, the rows read back) is written once to a temporary file beside the
CSV and renamed over it (``annotations.atomic_write_bytes``); every row after that is appended in
one write and flushed, so a row costs the same at the millionth image as at the first. A run stopped
at any moment, even by ``kill -9``, leaves a CSV of the rows done so far; a last line that was cut
short (a crash of the machine mid-write) is dropped when ``resume`` reads the file back, so a row is
never counted half. ``resume`` keeps the rows and the images they name are not counted again. The
``file`` column holds the path as given; bytes of a file name that are not UTF-8 are written as
``\\xNN`` so the CSV stays valid UTF-8.
"""

from __future__ import annotations

import csv
import io
import os
from functools import cached_property
from pathlib import Path

from . import annotations
from .errors import InputFileError

COLUMNS = ("file", "count", "model", "cell_diameter_px", "cell_size", "scale", "device", "seconds")


def file_cell(path: str | Path) -> str:
    """The ``file`` column's text for ``path``."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


class CountsCsv:
    """The CSV at ``path``, started once and appended to by ``add``; with ``resume``, its rows kept.

    ``columns`` are ``COLUMNS`` and, for the fields of OME-Zarr plates, ``COLUMNS + plates.PLATE_COLUMNS``."""

    def __init__(self, path: str | Path, resume: bool = False, columns: tuple[str, ...] = COLUMNS):
        self.path = Path(path)
        self.columns = tuple(columns)
        self._rows: list[str] = []  # the rows read back, written again when the file is started
        self._done: set[str] = set()
        self._count = 0
        self._handle = None
        self._started = False
        if resume and os.path.lexists(self.path):
            self._read_back()

    def _read_back(self) -> None:
        def refuse(reason):
            return InputFileError(self.path, f"{reason}; --resume continues a counts CSV that "
                                             f"'countxplain count --out' wrote")

        try:
            text = self.path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise refuse("is not a UTF-8 text file") from None
        except OSError as error:
            raise InputFileError(self.path, f"cannot be read ({error.strerror or error})") from None
        if text and not text.endswith("\n"):
            text = text[:text.rfind("\n") + 1]  # a row cut short by a crash: counted again
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            if header is None:
                return  # an empty file: nothing counted yet
            if tuple(header) != self.columns:
                raise refuse(f"its columns are {','.join(header)!r}, not {','.join(self.columns)!r}")
            for row in reader:
                if not row:
                    continue
                if len(row) != len(self.columns):
                    raise refuse(f"line {reader.line_num} has {len(row)} fields, not {len(self.columns)}")
                self._rows.append(_line(row))
                self._done.add(row[0])
                self._count += 1
        except csv.Error as error:
            raise refuse(f"line {reader.line_num} is malformed ({error})") from None

    def counted(self, path: str | Path) -> bool:
        """Whether the CSV already holds a row for ``path`` (as given, or the same file by its real path)."""
        return file_cell(path) in self._done or os.path.realpath(path) in self._done_real_paths

    @cached_property
    def _done_real_paths(self) -> set[str]:
        return {os.path.realpath(name) for name in self._done}

    @property
    def row_count(self) -> int:
        return self._count

    def add(self, row: dict) -> None:
        """Append a row (``columns`` as keys; ``file`` a path) to the CSV, flushed to the file."""
        cells = [file_cell(row["file"])] + [str(row[column]) for column in self.columns[1:]]
        self._start()
        self._handle.write(_line(cells).encode("utf-8"))
        self._handle.flush()
        self._done.add(cells[0])
        self._count += 1

    def _start(self) -> None:
        """Write the header and any rows read back (atomically) once, then open the file for appending."""
        if self._handle is not None:
            return
        if not self._started:
            annotations.remove_stale_temporaries(self.path)
            annotations.atomic_write_bytes(self.path, (_line(self.columns) + "".join(self._rows)).encode("utf-8"))
            self._rows = []
            self._started = True
        self._handle = open(self.path, "ab")  # noqa: SIM115 - kept open for the run, closed by finish

    def finish(self) -> None:
        """Sync and close the CSV; a run where every image failed still leaves a header."""
        self._start()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None


def _line(cells) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()
