"""Cyclic garbage is collected on the GUI thread only, while a job worker thread exists.

Python's cycle collector runs in whichever thread happens to allocate. Run in the job worker
in the middle of a training epoch, it would destroy dead Qt objects (a closed dialog, plot
items held in reference cycles) off the GUI thread, which Qt does not allow. While at least
one job runner is alive, automatic collection is off and pyqtgraph's ``GarbageCollector``
collects from a GUI-thread timer instead; the last runner to stop turns automatic collection
back on.
"""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector

INTERVAL_S = 1.0

_collector: GarbageCollector | None = None
_holders = 0


def hold() -> None:
    """A worker thread starts: from now on collect only on the GUI thread (call it there)."""
    global _collector, _holders
    _holders += 1
    if _collector is None:
        _collector = GarbageCollector(interval=INTERVAL_S)
    elif not _collector.timer.isActive():
        gc.disable()
        _collector.timer.start(int(INTERVAL_S * 1000))


def release() -> None:
    """A worker thread has stopped: with none left, collect now and let Python collect as usual."""
    global _holders
    _holders = max(0, _holders - 1)
    if _holders == 0 and _collector is not None:
        _collector.timer.stop()
        gc.collect()
        gc.enable()
