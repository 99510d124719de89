"""``gridcall replay CALLS.csv``: the calls of a file through the live intake's code path."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

from dispatch.intake import Intake, ReadyCall, ready_call
from outages.calls import csv_rows, parse_datetime
from outages.locate.locator import Locator

logger = logging.getLogger(__name__)

LOCATE_WORKERS = 1  # processes that locate a replay's calls ahead of the intake


@dataclass
class ReplayStats:
    calls: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def read_calls(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows with their row numbers (the header is row 1), in ``received_at`` order; rows
    whose time cannot be read keep their place at the front, to be rejected with a reason."""
    rows = [(i + 2, dict(r)) for i, r in enumerate(csv_rows(path))]

    def key(item: tuple[int, dict[str, Any]]) -> tuple[int, datetime | float, int]:
        n, row = item
        try:
            return (1, parse_datetime(str(row.get("received_at") or "")), n)
        except ValueError:
            return (0, 0.0, n)

    keyed = [(key(item), item) for item in rows]
    unreadable = [item for k, item in keyed if k[0] == 0]
    readable = sorted(
        ((k, item) for k, item in keyed if k[0] == 1), key=lambda x: (x[0][1], x[0][2])
    )
    return unreadable + [item for _k, item in readable]


def replay(
    intake: Intake,
    calls_path: str | Path,
    out: IO[str],
    *,
    batch: int = 500,
    workers: int = LOCATE_WORKERS,
    chunk: int = 250,
) -> ReplayStats:
    """Every row of the file through the intake, ``batch`` calls per transaction.

    With ``workers``, that many forked processes parse and locate the rows ``chunk`` at a
    time, ahead of the intake, which meanwhile groups and dispatches the calls before (on
    two cores, locating no longer adds to the replay's time). The answers are the same."""
    rows = read_calls(calls_path)
    stats = ReplayStats()
    started = time.perf_counter()
    with located_ahead(intake.services.locator, rows, workers, chunk) as ready:
        for answer in intake.take_many(rows, batch=batch, ready=ready):
            out.write(json.dumps(answer, ensure_ascii=False, default=str) + "\n")
            stats.calls += 1
            if answer["status"] == "rejected":
                stats.rejected += 1
    # rows are in time order, unreadable times first: the last row's time is the latest,
    # "now" for the final picture of the incidents
    last = _time(rows[-1][1]) if rows else None
    if last is not None:
        intake.settle(last)
    out.write(json.dumps(intake.final(), ensure_ascii=False) + "\n")
    stats.seconds = time.perf_counter() - started
    return stats


def _time(row: dict[str, Any]) -> datetime | None:
    try:
        return parse_datetime(str(row.get("received_at") or ""))
    except ValueError:
        return None


# -- locating ahead in other processes ---------------------------------------------------------

WINDOW = 8  # chunks in flight: the workers run ahead, but not the whole file in memory

_inherited: dict[str, Locator] = {}  # in a worker: the network it locates on


def _adopt(locator: Locator) -> None:
    _inherited["locator"] = locator


def _ready_chunk(chunk: list[tuple[int, dict[str, Any]]]) -> list[ReadyCall]:
    locator = _inherited["locator"]
    return [ready_call(locator, row, n) for n, row in chunk]


@contextmanager
def located_ahead(
    locator: Locator, rows: list[tuple[int, dict[str, Any]]], workers: int, chunk: int
) -> Iterator[Iterator[ReadyCall] | None]:
    """The rows parsed and located by ``workers`` forked processes, in order; None (the
    intake locates each call itself) without workers, for a file of one chunk, or where
    processes cannot be forked. The workers inherit the network from this process (a fork
    copies nothing until it is written), so they start at once at any grid size. Should
    a worker die, the rest is located here."""
    if workers < 1 or len(rows) <= chunk or "fork" not in mp.get_all_start_methods():
        yield None
        return
    pool = ProcessPoolExecutor(
        workers, mp_context=mp.get_context("fork"), initializer=_adopt, initargs=(locator,)
    )
    chunks = [rows[i : i + chunk] for i in range(0, len(rows), chunk)]

    failed = False

    def ready() -> Iterator[ReadyCall]:
        nonlocal failed
        todo = iter(chunks)
        in_flight = deque((part, pool.submit(_ready_chunk, part)) for part in islice(todo, WINDOW))
        while in_flight:
            part, future = in_flight.popleft()
            try:
                got = future.result()
            except Exception:  # died (BrokenProcessPool), or could not be reached
                failed = True
                logger.warning(
                    "a locating worker died: the rest of the calls are located here",
                    exc_info=True,
                )
                for rest in (part, *(p for p, _f in in_flight), *todo):
                    yield from (ready_call(locator, row, n) for n, row in rest)
                return
            following = next(todo, None)
            if following is not None:  # the workers keep busy while this chunk is taken
                in_flight.append((following, pool.submit(_ready_chunk, following)))
            yield from got

    finished = False
    try:
        yield ready()
        finished = True
    finally:
        # after a failure, a worker may never answer again: not waited for
        pool.shutdown(wait=finished and not failed, cancel_futures=True)
