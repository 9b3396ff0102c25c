"""The counts CSV of ``countxplain count --out``: a row per counted image, on disk as soon as it is counted.

After every row the whole table is written to a temporary file beside the CSV and renamed over
it (``annotations.atomic_write_bytes``), so a run stopped at any moment, even by ``kill -9``,
leaves the file as it was before or a complete CSV of the rows done so far, never half a row.
``resume`` reads such a file back: its rows are kept and the images it names are not counted
again. The ``file`` column holds the path as given; bytes of a file name that are not UTF-8 are
written as ``\\xNN`` so the CSV stays valid UTF-8.
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
    """The CSV at ``path``, rewritten whole after each ``add``; with ``resume``, its rows kept.

    ``columns`` are ``COLUMNS`` and, for the fields of OME-Zarr plates, ``COLUMNS + plates.PLATE_COLUMNS``."""

    def __init__(self, path: str | Path, resume: bool = False, columns: tuple[str, ...] = COLUMNS):
        self.path = Path(path)
        self.columns = tuple(columns)
        self._rows: list[str] = []
        self._done: set[str] = set()
        self._written = False
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
                self._keep(row)
        except csv.Error as error:
            raise refuse(f"line {reader.line_num} is malformed ({error})") from None

    def _keep(self, row) -> None:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(row)
        self._rows.append(buffer.getvalue())
        self._done.add(row[0])

    def counted(self, path: str | Path) -> bool:
        """Whether the CSV already holds a row for ``path`` (as given, or the same file by its real path)."""
        return file_cell(path) in self._done or os.path.realpath(path) in self._done_real_paths

    @cached_property
    def _done_real_paths(self) -> set[str]:
        return {os.path.realpath(name) for name in self._done}

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def add(self, row: dict) -> None:
        """Append a row (``columns`` as keys; ``file`` a path) and write the CSV."""
        self._keep([file_cell(row["file"])] + [str(row[column]) for column in self.columns[1:]])
        self.write()

    def write(self) -> None:
        """Write the header and every row to ``path`` (atomically)."""
        buffer = io.StringIO()
        csv.writer(buffer).writerow(self.columns)
        if not self._written:
            annotations.remove_stale_temporaries(self.path)
        annotations.atomic_write_bytes(self.path, (buffer.getvalue() + "".join(self._rows)).encode("utf-8"))
        self._written = True

    def finish(self) -> None:
        """Write the CSV if no row has been added (a run where every image failed still leaves a header)."""
        if not self._written:
            self.write()
