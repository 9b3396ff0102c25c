"""The one job runner: serial, off the GUI thread, superseding by tag, cancellable."""

from __future__ import annotations

import threading

import pytest

from cxdesktop.jobs import BATCH, INTERACTIVE, JobRunner

WAIT_MS = 30_000


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    events = {"result": [], "error": [], "cancelled": [], "dropped": [], "progress": []}
    r.sigResult.connect(lambda job, value: events["result"].append((job.kind, job.tag, value)))
    r.sigError.connect(lambda job, message: events["error"].append((job.tag, message)))
    r.sigCancelled.connect(lambda job: events["cancelled"].append(job.tag))
    r.sigDropped.connect(lambda job: events["dropped"].append(job.request_id))
    r.sigProgress.connect(lambda job, fraction, text: events["progress"].append((fraction, text)))
    r.events = events
    yield r
    r.shutdown()


def hold_worker(runner) -> threading.Event:
    gate, started = threading.Event(), threading.Event()

    def hold(ctx):
        started.set()
        gate.wait(30)

    runner.submit("gate", hold, tag="gate", priority=-1)
    assert started.wait(30)
    return gate


def test_jobs_run_serially_on_one_worker_thread_not_the_gui_thread(qtbot, runner):
    active, overlaps = [0], []
    lock = threading.Lock()

    def work(ctx, value):
        with lock:
            active[0] += 1
            overlaps.append(active[0])
        ctx.progress(0.5, "half")
        with lock:
            active[0] -= 1
        return threading.get_ident(), value

    for i in range(6):
        runner.submit("work", lambda ctx, i=i: work(ctx, i), tag=f"t{i}")
    qtbot.waitUntil(lambda: len(runner.events["result"]) == 6, timeout=WAIT_MS)
    assert max(overlaps) == 1
    idents = {ident for _, _, _, ident in runner.thread_log}
    assert len(idents) == 1 and runner.gui_thread_ident not in idents
    assert {value for _, _, (_, value) in runner.events["result"]} == set(range(6))
    assert any(text == "half" for _, text in runner.events["progress"])


def test_slots_run_on_the_gui_thread(qtbot, runner):
    seen = []
    runner.sigResult.connect(lambda job, value: seen.append(threading.get_ident()))
    runner.submit("work", lambda ctx: 1, tag="x")
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    assert seen == [runner.gui_thread_ident]


def test_a_newer_request_for_the_same_tag_supersedes_queued_ones(qtbot, runner):
    gate = hold_worker(runner)
    runner.submit("count", lambda ctx: "old", tag="a.png")
    runner.submit("count", lambda ctx: "other image", tag="b.png")
    newest = runner.submit("count", lambda ctx: "new", tag="a.png")
    gate.set()
    qtbot.waitUntil(lambda: len(runner.events["result"]) == 3, timeout=WAIT_MS)  # gate + b + newest a
    values = [value for kind, tag, value in runner.events["result"] if kind == "count"]
    assert values == ["other image", "new"]
    assert len(runner.events["dropped"]) == 1
    assert [rid for rid, kind, tag, _ in runner.thread_log if tag == "a.png"] == [newest]
    ran = [tag for _, kind, tag, _ in runner.thread_log if kind == "count"]
    assert ran.count("a.png") == 1  # the superseded request never ran


def test_a_running_request_that_is_superseded_is_cancelled_and_its_result_dropped(qtbot, runner):
    started, release = threading.Event(), threading.Event()

    def slow(ctx):
        started.set()
        release.wait(30)
        return "stale"  # returns anyway, as if it missed the cancel flag

    first = runner.submit("count", slow, tag="a.png")
    assert started.wait(30)
    runner.submit("count", lambda ctx: "fresh", tag="a.png")
    release.set()
    qtbot.waitUntil(lambda: bool(runner.events["result"]), timeout=WAIT_MS)
    qtbot.waitUntil(runner.is_idle, timeout=WAIT_MS)
    assert [value for _, _, value in runner.events["result"]] == ["fresh"]
    assert first in runner.events["dropped"]


def test_cancel_all_empties_the_queue_and_flags_the_running_job(qtbot, runner):
    started = threading.Event()

    def cancellable(ctx):
        started.set()
        while not ctx.cancelled():
            threading.Event().wait(0.01)
        ctx.check()

    runner.submit("count", cancellable, tag="running")
    assert started.wait(30)
    for i in range(5):
        runner.submit("count", lambda ctx: "never", tag=f"queued{i}")
    runner.submit("other", lambda ctx: "kept", tag="x")
    runner.cancel_all("count")
    qtbot.waitUntil(runner.is_idle, timeout=WAIT_MS)
    assert sorted(runner.events["cancelled"]) == sorted(["running"] + [f"queued{i}" for i in range(5)])
    assert [value for _, _, value in runner.events["result"]] == ["kept"]


def test_library_cancelled_exception_counts_as_cancelled_by_its_type(qtbot, runner):
    from countxplain.errors import Cancelled

    class NamedCancelled(Exception):
        pass

    NamedCancelled.__name__ = "Cancelled"

    def raises(ctx):
        raise Cancelled()

    def look_alike(ctx):
        raise NamedCancelled("not ours")

    runner.submit("count", raises, tag="a")
    runner.submit("count", look_alike, tag="b")
    qtbot.waitUntil(runner.is_idle, timeout=WAIT_MS)
    assert runner.events["cancelled"] == ["a"] and [tag for tag, *_ in runner.events["error"]] == ["b"]


def test_errors_are_reported_with_their_message(qtbot, runner):
    from countxplain.errors import ImageReadError

    def bad(ctx):
        raise ImageReadError("x.png", "not an image file")

    def bug(ctx):
        raise ZeroDivisionError("division by zero")

    runner.submit("count", bad, tag="x.png")
    runner.submit("count", bug, tag="y.png")
    qtbot.waitUntil(lambda: len(runner.events["error"]) == 2, timeout=WAIT_MS)
    assert runner.events["error"][0] == ("x.png", "x.png: not an image file")
    assert runner.events["error"][1] == ("y.png", "ZeroDivisionError: division by zero")


def test_interactive_jobs_jump_ahead_of_batch_work_and_promote(qtbot, runner):
    gate = hold_worker(runner)
    order = []
    for name in ("b1", "b2", "b3"):
        runner.submit("count", lambda ctx, n=name: order.append(n), tag=name, priority=BATCH)
    runner.submit("read", lambda ctx: order.append("view"), tag="v", priority=INTERACTIVE)
    assert runner.promote("count", "b3")
    gate.set()
    qtbot.waitUntil(lambda: len(order) == 4, timeout=WAIT_MS)
    assert set(order[:2]) == {"view", "b3"} and order[2:] == ["b1", "b2"]


def test_shutdown_stops_the_worker(qtbot):
    r = JobRunner()
    r.submit("work", lambda ctx: 1)
    r.shutdown()
    assert not r._worker.isRunning()


def test_structured_reports_reach_the_gui_thread_in_order_even_after_a_cancel(qtbot, runner):
    reports = []
    runner.sigReport.connect(lambda job, payload: reports.append((threading.get_ident(), payload)))

    def job(ctx):
        ctx.report({"epoch": 1})
        while not ctx.cancelled():
            threading.Event().wait(0.01)
        ctx.report({"epoch": 2})  # finished before the job looked at the flag: still shown
        ctx.check()

    runner.submit("train", job, tag="training", supersede=False)
    qtbot.waitUntil(lambda: bool(reports), timeout=WAIT_MS)
    runner.cancel_all("train")
    qtbot.waitUntil(runner.is_idle, timeout=WAIT_MS)
    assert [payload for _, payload in reports] == [{"epoch": 1}, {"epoch": 2}]
    assert {ident for ident, _ in reports} == {runner.gui_thread_ident}
    assert runner.events["cancelled"] == ["training"]


class _CycleWithFinaliser:
    """Garbage in a reference cycle: only the cycle collector frees it; records the freeing thread."""

    freed_on: list[int] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _CycleWithFinaliser.freed_on.append(threading.get_ident())


def test_cycles_are_collected_on_the_gui_thread_while_the_worker_runs(qtbot):
    import gc

    _CycleWithFinaliser.freed_on.clear()
    r = JobRunner()
    try:
        assert not gc.isenabled()
        _CycleWithFinaliser()  # unreachable at once; waits for a collection

        def allocate_cycles(ctx):  # enough cycles to start many collections, were they automatic
            for _ in range(50_000):
                pair = [None]
                pair[0] = pair
            return threading.get_ident()

        r.submit("allocate", allocate_cycles)
        qtbot.waitUntil(r.is_idle, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: len(_CycleWithFinaliser.freed_on) > 0, timeout=WAIT_MS)
        assert _CycleWithFinaliser.freed_on == [r.gui_thread_ident]
    finally:
        r.shutdown()
    assert gc.isenabled()
