"""The model file: one safe, validated ``.cxm`` file per trained model.

Contents (a plain dict of strings, numbers, lists and tensors; no pickled objects):

* ``format``/``version``: ``"countxplain-model"`` and ``FORMAT_VERSION``.
* ``config``: the architecture (``ModelConfig``).
* ``preprocessing``: intensity normalisation and ``cell_diameter_px``, the typical cell
  diameter (nearest-neighbour spacing) in pixels at which the model was trained; with
  ``fit_to_stride`` true, images are resized to whole output cells (``images.stride_fitted_shape``),
  as in its training; with ``native_scale`` true, images are counted at their own scale.
* ``state_dict``: the weights (float32 or float16).
* ``gallery``: per prototype, its top training patches (uint8 RGB) with similarities.
* ``provenance``: training data, metrics, date, free text.

Files are written to a temporary file and renamed into place, and read with
``torch.load(weights_only=True)`` (which never runs pickled code) once every part of the
archive is one the format names, no larger than it can need (``modelfile_checks``) and matches
its stored CRC-32, then checked against the schema and the plausible range of its numbers: a
file that fails any check raises ``ModelFileError``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .annotations import atomic_write_bytes
from .errors import ModelFileError
from .modelfile_checks import check_members, check_preprocessing, refuse_unused_bytes
from .network import CountXplain, ModelConfig

FORMAT_NAME = "countxplain-model"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".cxm"
# the most each architecture size may be: far above what training makes (a few prototypes of 64 channels),
# low enough that a tampered file cannot ask for more memory than a computer has
CONFIG_LIMITS = {"k_cell": 256, "k_bg": 256, "prototype_dim": 4096}
DEFAULT_PREPROCESSING = {"intensity": "uint8/255, else 0.1-99.9 percentile stretch; ImageNet mean/std",
                         "cell_diameter_px": 10.0}


@dataclass
class Gallery:
    """Top-k training patches per prototype: ``patches`` (K, k, P, P, 3) uint8, ``similarity`` (K, k)."""

    patches: torch.Tensor
    similarity: torch.Tensor
    sources: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"patches": self.patches, "similarity": self.similarity, "sources": self.sources}


@dataclass
class ModelBundle:
    """A model ready to use: the network plus everything the file says about it."""

    network: CountXplain
    preprocessing: dict
    provenance: dict
    gallery: Gallery | None = None
    path: Path | None = None

    @property
    def config(self) -> ModelConfig:
        return self.network.config

    @property
    def cell_diameter_px(self) -> float:
        return float(self.preprocessing.get("cell_diameter_px", DEFAULT_PREPROCESSING["cell_diameter_px"]))

    @property
    def name(self) -> str:
        return str(self.provenance.get("name") or (self.path.stem if self.path else "unsaved model"))


def save_model(bundle: ModelBundle, path: str | Path, half: bool = False) -> Path:
    """Write the model atomically; ``half`` stores float weights as float16."""
    path = Path(path)
    state = {}
    for key, value in bundle.network.state_dict().items():
        # training may leave channels_last
        value = value.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        state[key] = value.half() if half and value.is_floating_point() else value
    payload = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "config": bundle.config.to_dict(),
        "preprocessing": dict(bundle.preprocessing),
        "state_dict": state,
        "gallery": bundle.gallery.to_dict() if bundle.gallery is not None else None,
        "provenance": dict(bundle.provenance),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu") -> ModelBundle:
    """Load and validate a model file; raise ``ModelFileError`` with the reason if refused."""
    path = Path(path)
    payload = read_payload(path)
    config = _validate_config(path, payload)
    network = CountXplain(config)
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(path, "weights are not a mapping of tensors")
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFileError(path,
                             f"weights do not match the architecture (missing {missing[:3]}, unexpected "
                             f"{unexpected[:3]})")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ModelFileError(path,
                                 f"weight '{key}' has shape {tuple(tensor.shape)}, expected "
                                 f"{tuple(expected[key].shape)}")
        if not tensor.is_floating_point():
            raise ModelFileError(path, f"weight '{key}' is not floating point ({tensor.dtype})")
        if not torch.isfinite(tensor).all():
            raise ModelFileError(path, f"weight '{key}' contains NaN or infinite values")
    network.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    network.to(device).eval()
    preprocessing = payload.get("preprocessing") or {}
    if not isinstance(preprocessing, dict):
        raise ModelFileError(path, "'preprocessing' is not a mapping")
    check_preprocessing(path, preprocessing)
    provenance = payload.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise ModelFileError(path, "'provenance' is not a mapping")
    gallery = _validate_gallery(path, payload.get("gallery"), config)
    return ModelBundle(network, {**DEFAULT_PREPROCESSING, **preprocessing}, provenance, gallery, path)


def read_payload(path: Path) -> dict:
    """The raw dict of a model file, read without executing anything."""
    if not path.exists():
        raise ModelFileError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise ModelFileError(path, "file is empty (0 bytes)")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(path,
                             "not a CountXplain model file (not a torch zip archive; truncated or another format)")
    members = _check_archive(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # the unpickler raises many types; all mean "refused"
        text = "its records do not unpack into plain data and tensors (malformed or altered)"
        if "weights_only" in str(error) or "Unsupported" in str(error) or "global" in str(error).lower():
            text = "contains objects other than plain data and tensors; refused without running them"
        raise ModelFileError(path, f"cannot be read safely: {text}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise ModelFileError(path, "not a CountXplain model file (no 'countxplain-model' header)")
    version = payload.get("version")
    if version != FORMAT_VERSION:
        raise ModelFileError(path,
                             f"model file version {version!r} is not supported (this program reads version "
                             f"{FORMAT_VERSION})")
    for key in ("config", "state_dict"):
        if key not in payload:
            raise ModelFileError(path, f"model file has no '{key}' section")
    refuse_unused_bytes(path, members, payload)
    return payload


def _check_archive(path: Path) -> list[zipfile.ZipInfo]:
    """The archive's parts, once their names and sizes are allowed (``modelfile_checks.check_members``)
    and they match their CRC-32 (``torch.load`` does not check them)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            check_members(path, members)
            damaged = archive.testzip()
    except ModelFileError:
        raise
    except Exception as error:  # zipfile and zlib raise several types for a broken archive
        raise ModelFileError(path, f"file is damaged: its archive cannot be read ({error})") from None
    if damaged is not None:
        raise ModelFileError(path,
                             f"file is damaged: its part '{damaged}' does not match the checksum stored when it was "
                                   "saved (changed since, or copied incompletely)")
    return members


def _validate_config(path: Path, payload: dict) -> ModelConfig:
    config = payload["config"]
    if not isinstance(config, dict):
        raise ModelFileError(path, "'config' is not a mapping")
    for name, most in CONFIG_LIMITS.items():
        if name not in config:
            raise ModelFileError(path, f"architecture config is incomplete (no '{name}')")
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelFileError(path, f"architecture config '{name}' is {value!r}, not a whole number")
        if value < 1:
            raise ModelFileError(path, f"architecture config has non-positive sizes: '{name}' is {value}")
        if value > most:
            raise ModelFileError(path, f"architecture config '{name}' is {value}, more than the {most} this program "
                                       "accepts")
    for name in ("extractor", "similarity", "density"):
        if name in config and not isinstance(config[name], str):
            raise ModelFileError(path, f"architecture config '{name}' is {config[name]!r}, not a name")
    try:
        return ModelConfig.from_dict(config)
    except ValueError as error:
        raise ModelFileError(path, f"architecture config: {error}") from None


def _validate_gallery(path: Path, gallery: dict | None, config: ModelConfig) -> Gallery | None:
    if gallery is None:
        return None
    try:
        patches, similarity = gallery["patches"], gallery["similarity"]
        sources = list(gallery.get("sources") or [])
    except (TypeError, KeyError):
        raise ModelFileError(path, "prototype gallery is malformed") from None
    if not isinstance(patches, torch.Tensor) or patches.dtype != torch.uint8 or patches.ndim != 5 \
            or patches.shape[0] != config.k_total or patches.shape[-1] != 3:
        raise ModelFileError(path, f"prototype gallery patches must be uint8 (K={config.k_total}, k, P, P, 3)")
    if not isinstance(similarity, torch.Tensor) or tuple(similarity.shape) != tuple(patches.shape[:2]):
        raise ModelFileError(path, "prototype gallery similarities do not match its patches")
    return Gallery(patches, similarity.float(), sources)
