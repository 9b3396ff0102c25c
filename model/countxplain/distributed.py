"""``countxplain count --workers N`` and ``--scheduler tcp://HOST:PORT``: one Dask task per image.

Imported only when one of those flags is given, so the app, the plain command line and the bundle
never load Dask. Each worker thread loads the model once (``worker_counter``) and counts with the
same ``batch.count_item`` as the local loop; this process writes each row to the counts CSV as its
task finishes. A worker that dies takes no image with it: the scheduler runs its tasks again
elsewhere, and an image that kills every worker it lands on (``allowed-failures`` times) is
reported as an image that could not be counted. Tasks are handed to the scheduler a window at a time
rather than all at once, so a plate of a million fields does not sit in the scheduler's memory.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator

from distributed import Client, LocalCluster, as_completed
from distributed.scheduler import KilledWorker

from .batch import CountSettings, Outcome, count_item, record
from .counts_csv import CountsCsv
from .errors import CountXplainError, shown_path
from .inference import Counter
from .inputs import Item, item_path

CONNECT_TIMEOUT_S = 15
TASK_RETRIES = 2  # an exception other than a refused image (those are outcomes, not exceptions) is tried again
IN_FLIGHT_PER_THREAD = 4
MIN_IN_FLIGHT = 64

_counters: dict[tuple[CountSettings, int], Counter] = {}
_counters_lock = threading.Lock()


class ModelNotLoaded(Exception):
    """The model could not be loaded on a worker (a plain exception: it travels back to the client as it is)."""


def worker_counter(settings: CountSettings) -> Counter:
    """This worker thread's counter for ``settings``, loading the model the first time only."""
    from .modelfile import load_model

    key = (settings, threading.get_ident())
    with _counters_lock:
        if key not in _counters:
            try:
                _counters[key] = settings.counter(load_model(settings.model))
            except CountXplainError as error:
                raise ModelNotLoaded(str(error)) from None
        return _counters[key]


def count_task(item: Item, settings: CountSettings) -> Outcome:
    """The task run on a worker for one image."""
    return count_item(worker_counter(settings), item, settings)


def count_on_cluster(items: list[Item], settings: CountSettings, table: CountsCsv | None, workers: int | None = None,
                     scheduler: str | None = None) -> int:
    """Count ``items`` on a local cluster of ``workers`` processes or on the cluster at ``scheduler``;
    record each outcome as it arrives and return how many images were counted."""
    logging.getLogger("distributed").setLevel(logging.ERROR)  # its warnings would be lines about no image
    with connect(workers, scheduler) as client:
        counted = 0
        for item, outcome in outcomes(client, items, settings):
            counted += record(outcome, table) if outcome else report_lost(item)
        return counted


@contextlib.contextmanager
def connect(workers: int | None, scheduler: str | None) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a new local cluster of ``workers`` one-thread processes."""
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise CountXplainError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s "
                                   f"({error})") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster, set_as_default=False) as client:
        yield client


def in_flight_limit(client: Client) -> int:
    return max(MIN_IN_FLIGHT, IN_FLIGHT_PER_THREAD * sum(client.nthreads().values()))


def outcomes(client: Client, items: list[Item], settings: CountSettings) -> Iterator[tuple[Item, Outcome | None]]:
    """(item, outcome) as each task finishes; outcome None for an image whose task failed every try."""
    pending = iter(items)
    item_of = {}
    finished = as_completed(loop=client.loop)

    def submit(count: int) -> None:
        for item in (next(pending, None) for _ in range(count)):
            if item is None:
                return
            future = client.submit(count_task, item, settings, retries=TASK_RETRIES, pure=False)
            item_of[future.key] = item
            finished.add(future)

    limit = in_flight_limit(client)
    submit(limit)
    for done, future in enumerate(finished, start=1):
        item = item_of.pop(future.key)
        try:
            outcome = future.result()
        except ModelNotLoaded as error:
            raise CountXplainError(str(error)) from None
        except KilledWorker:
            outcome = None
        except Exception as error:  # a bug, not an image that cannot be read: say which image met it
            outcome = Outcome(item, error=f"{shown_path(item_path(item))}: {type(error).__name__}: {error}")
        future.release()
        yield item, outcome
        if done % MIN_IN_FLIGHT == 0:  # workers come and go (an adaptive cluster): follow their thread count
            limit = in_flight_limit(client)
        submit(max(1, limit - len(item_of)))


def report_lost(item: Item) -> bool:
    print(f"error: {shown_path(item_path(item))}: every Dask worker that counted it died (out of memory?)",
          file=sys.stderr)
    return False
