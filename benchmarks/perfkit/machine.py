"""Machine state and timing: who else uses the CPU, machine description, ``timed``, RSS."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

# ---------------------------------------------------------------------------------------------
# machine state


def process_ticks() -> dict[int, tuple[int, str, int]]:
    """pid -> (user + system clock ticks, command line, parent pid) of every process (Linux ``/proc``)."""
    out = {}
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return out
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            out[int(entry.name)] = (int(fields[11]) + int(fields[12]), command, int(fields[1]))
        except (OSError, IndexError, ValueError):
            continue
    return out


def competitors_since(before: dict, seconds: float, threshold: float = 10.0) -> list[dict]:
    """Processes other than this one and its children that averaged more than ``threshold`` % of a
    core since the ``before`` snapshot (a process started since then counts from zero)."""
    after = process_ticks()
    hertz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    busy = []
    for pid, (ticks, command, parent) in after.items():
        if pid == me or parent == me:
            continue
        percent = 100.0 * (ticks - before.get(pid, (0,))[0]) / hertz / max(seconds, 1e-3)
        if percent >= threshold:
            busy.append({"pid": pid, "cpu_percent": round(percent), "command": command[:120]})
    return sorted(busy, key=lambda p: -p["cpu_percent"])


def cpu_competitors(seconds: float = 1.0, threshold: float = 10.0) -> list[dict]:
    before = process_ticks()
    time.sleep(seconds)
    return competitors_since(before, seconds, threshold)


def wait_quiet(max_wait: float) -> float:
    """Wait (up to ``max_wait`` s) until no other process uses the CPU; the seconds waited."""
    start = time.time()
    while time.time() - start < max_wait:
        if not cpu_competitors(2.0):
            break
        time.sleep(8.0)
    return time.time() - start


def cpu_isa(flags: set[str]) -> str:
    """The widest vector unit of a CPU's flags, as every timing names it: AMX, AVX-512 BF16, AVX-512 or AVX2."""
    if "amx_bf16" in flags:
        return "AMX"
    if "avx512_bf16" in flags:
        return "AVX-512 BF16"
    return "AVX-512" if "avx512f" in flags else "AVX2"


def machine_info() -> dict:
    cpu_model = ""
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not cpu_model:
                cpu_model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    info = {
        "cpu": cpu_model or platform.processor(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags, "isa": cpu_isa(flags),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# helpers


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1, device: torch.device | None = None) -> dict:
    """Run ``fn`` ``warmup`` + ``repeats`` times; the median and minimum of the timed runs."""
    device = device or torch.device("cpu")
    value = None
    for _ in range(warmup):
        value = fn()
        synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs_s": [round(t, 4) for t in times],
            "value": value if isinstance(value, (int, float)) else None}


def proc_status_mb(field: str) -> float | None:
    """A kB field of ``/proc/self/status`` (e.g. ``VmRSS``) in MB; None where there is no ``/proc``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux ``/proc``; else the peak so far)."""
    current = proc_status_mb("VmRSS")
    return current if current is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB: ``VmHWM`` (Linux), else ``ru_maxrss``.

    ``ru_maxrss`` of a child started by fork + exec can carry the parent's peak over (the
    kernel keeps the larger of the old and the new memory map's high-water mark), so it
    is not used where ``/proc`` answers."""
    high_water = proc_status_mb("VmHWM")
    if high_water is not None:
        return high_water
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2 ** 20
