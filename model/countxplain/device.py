"""Choosing where tensors run: CUDA, MPS or the CPU, with a reason when a GPU is not used."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    reason: str

    @property
    def label(self) -> str:
        if self.device.type == "cuda":
            return f"CUDA ({torch.cuda.get_device_name(self.device)})"
        return self.device.type.upper()


def cuda_problem() -> str | None:
    """None when CUDA is usable, else a sentence saying why not."""
    if not torch.backends.cuda.is_built():
        return "this PyTorch build has no CUDA support"
    try:
        if torch.cuda.device_count() == 0:
            return "no NVIDIA GPU or driver found"
        torch.zeros(1, device="cuda")
    except Exception as error:  # driver/runtime mismatches surface as various errors
        return f"CUDA is present but unusable ({str(error).splitlines()[0]})"
    return None


def mps_problem() -> str | None:
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_built():
        return "this PyTorch build has no Apple GPU (MPS) support"
    if not mps.is_available():
        return "no Apple GPU (MPS) available on this machine"
    return None


def usable_devices() -> dict[str, str | None]:
    """Each device name with None when usable, else the reason it is not."""
    return {"cpu": None, "cuda": cuda_problem(), "mps": mps_problem()}


def auto_candidates(platform: str | None = None) -> tuple[str, ...]:
    """The GPUs 'auto' tries, in order: Apple GPUs (MPS) only exist on macOS, so only there is their absence news."""
    return ("cuda", "mps") if (platform or sys.platform) == "darwin" else ("cuda",)


def choose_device(preference: str = "auto") -> DeviceChoice:
    """Resolve 'auto', 'cpu', 'cuda' or 'mps'; an unusable GPU falls back to the CPU with the reason."""
    preference = (preference or "auto").lower()
    if preference not in DEVICE_CHOICES:
        raise ValueError(f"unknown device '{preference}'; choose one of {', '.join(DEVICE_CHOICES)}")
    if preference == "cpu":
        return DeviceChoice(torch.device("cpu"), "CPU chosen")
    problems = usable_devices()
    candidates = auto_candidates() if preference == "auto" else (preference,)
    reasons = []
    for name in candidates:
        if problems[name] is None:
            return DeviceChoice(torch.device(name), f"{name.upper()} is usable")
        reasons.append(problems[name])
    return DeviceChoice(torch.device("cpu"), "using the CPU: " + "; ".join(reasons))
