"""What a model file may hold beyond its architecture: the archive's parts and the preprocessing numbers.

A ``.cxm`` file is a torch zip archive. Its parts are read from the archive's directory before any
of them is decompressed: only the names torch's format writes are accepted (``data.pkl``, the
version and byte-order records, and ``data/N`` storages), the small records may be a few bytes,
and the stored tensors together at most ``MAX_TENSOR_BYTES``. Once loaded, the tensors must use
every stored byte (``refuse_unused_bytes``): a part that nothing reads, or one longer than its
tensor, is refused.

The preprocessing numbers must lie in a plausible range (``PLAUSIBLE``): a cell diameter of a
million pixels or a millionth of one is a damaged or tampered file, never a model.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import torch

from .errors import ModelFileError

RECORD_NAMES = ("version", ".format_version", ".storage_alignment", "byteorder", ".data/version",
                ".data/serialization_id")
MEMBER_NAME = re.compile(r"(?P<top>[^/]+)/(?P<part>data\.pkl|data/\d+|" +
                         "|".join(re.escape(name) for name in RECORD_NAMES) + r")")
MAX_RECORD_BYTES = 64
MAX_PICKLE_BYTES = 64 * 2 ** 20
MAX_TENSOR_BYTES = 2 ** 30
# (least, most) of each preprocessing number, in pixels
PLAUSIBLE = {"cell_diameter_px": (2.0, 500.0), "sigma_px": (0.1, 200.0)}
SIZE_MODEL_LISTS = ("mean", "scale", "weights")
COUNT_SCALES = (0.05, 8.0)  # the factor a model counts images at (its ``count_scale``)
MAX_SIZE_FEATURES = 3 * 4096


def check_members(path: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse parts the format does not name, and parts larger than their kind can need (headers only)."""
    tops = set()
    tensor_bytes = 0
    for member in members:
        match = MEMBER_NAME.fullmatch(member.filename)
        if match is None:
            raise ModelFileError(path, f"the archive holds a part the model format does not name "
                                       f"('{_shown(member.filename)}'); refused unread")
        tops.add(match["top"])
        part = match["part"]
        most = MAX_PICKLE_BYTES if part == "data.pkl" else None if part.startswith("data/") else MAX_RECORD_BYTES
        if most is not None and member.file_size > most:
            raise ModelFileError(path, f"the archive's part '{_shown(member.filename)}' declares "
                                       f"{member.file_size:,} bytes, more than the {most:,} it can need; "
                                       "refused unread")
        tensor_bytes += member.file_size if most is None else 0
    if len(tops) > 1:
        raise ModelFileError(path, "the archive holds parts of more than one saved object; refused unread")
    if tensor_bytes > MAX_TENSOR_BYTES:
        raise ModelFileError(path, f"the archive declares {tensor_bytes:,} bytes of tensors, more than the "
                                   f"{MAX_TENSOR_BYTES:,} any model of this program needs; refused unread")


def refuse_unused_bytes(path: Path, members: list[zipfile.ZipInfo], payload) -> None:
    """Refuse an archive whose stored tensors are longer than the tensors it loads into."""
    stored = sum(m.file_size for m in members if MEMBER_NAME.fullmatch(m.filename)["part"].startswith("data/"))
    used = sum(_storages(payload, {}).values())
    if stored > used:
        raise ModelFileError(path, f"the archive stores {stored - used:,} bytes that none of its tensors use "
                                   "(a part added or lengthened after saving); refused")


def _storages(value, found: dict) -> dict:
    """Bytes of each distinct tensor storage in a loaded payload, keyed by address."""
    if isinstance(value, torch.Tensor):
        storage = value.untyped_storage()
        found[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
    elif isinstance(value, dict):
        for item in value.values():
            _storages(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _storages(item, found)
    return found


def check_preprocessing(path: Path, preprocessing: dict) -> None:
    """Refuse preprocessing numbers that are not numbers, or outside their plausible range."""
    for name, (least, most) in PLAUSIBLE.items():
        if name not in preprocessing:
            continue
        value = preprocessing[name]
        if not is_finite_positive(value):
            raise ModelFileError(path, f"'{name}' {value!r} is not a finite positive number of pixels")
        if not least <= value <= most:
            raise ModelFileError(path,
                                 f"'{name}' is {value:g} px, outside the plausible range of {least:g}-{most:g} px "
                                       "(a damaged or altered model file)")
    for flag in ("fit_to_stride", "native_scale"):
        if not isinstance(preprocessing.get(flag, False), bool):
            raise ModelFileError(path, f"'{flag}' {preprocessing[flag]!r} is not true or false")
    if "count_scale" in preprocessing:
        value = preprocessing["count_scale"]
        if not is_finite_positive(value) or not COUNT_SCALES[0] <= value <= COUNT_SCALES[1]:
            raise ModelFileError(path, f"'count_scale' {value!r} is not a factor of {COUNT_SCALES[0]:g}-"
                                       f"{COUNT_SCALES[1]:g} (a damaged or altered model file)")
    if preprocessing.get("size_model") is not None:
        check_size_model(path, preprocessing["size_model"])


def check_size_model(path: Path, size_model) -> None:
    """The cell-size estimator: equal lists of finite numbers (positive scales) and a finite bias."""
    if not isinstance(size_model, dict):
        raise ModelFileError(path, "the cell-size estimator is not a mapping")
    lists = [size_model.get(name) for name in SIZE_MODEL_LISTS]
    if not all(isinstance(values, list) and values and all(_is_finite(v) for v in values) for values in lists):
        raise ModelFileError(path, "the cell-size estimator's mean, scale and weights are not lists of finite numbers")
    if len({len(values) for values in lists}) != 1 or len(lists[0]) % 3 or len(lists[0]) > MAX_SIZE_FEATURES:
        raise ModelFileError(path, "the cell-size estimator's mean, scale and weights differ in length "
                                   f"or are not 3 per channel (at most {MAX_SIZE_FEATURES})")
    if min(lists[1]) <= 0:
        raise ModelFileError(path, "the cell-size estimator has a scale that is not positive")
    least, most = PLAUSIBLE["cell_diameter_px"]
    bias = size_model.get("bias")
    if not _is_finite(bias) or not math.log(least) <= bias <= math.log(most):
        raise ModelFileError(path, f"the cell-size estimator's bias {bias!r} is not the log of a diameter in "
                                   f"{least:g}-{most:g} px")
    modules = size_model.get("frontend_modules", 1)
    if isinstance(modules, bool) or not isinstance(modules, int) or not 1 <= modules <= 64:
        raise ModelFileError(path, f"the cell-size estimator's 'frontend_modules' {modules!r} is not a layer count")


def is_finite_positive(value) -> bool:
    """An int or float (not a bool, which Python counts as an int) above zero that a float can hold."""
    return _is_finite(value) and value > 0


def _is_finite(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _shown(name: str) -> str:
    return name.encode("unicode_escape").decode("ascii")[:80]
