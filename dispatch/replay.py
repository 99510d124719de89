"""``gridcall replay CALLS.csv``: the calls of a file through the live intake's code path."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dispatch.intake import Intake
from outages.calls import parse_datetime


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
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        rows = [(i + 2, dict(r)) for i, r in enumerate(csv.DictReader(f))]

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
    intake: Intake, calls_path: str | Path, out: IO[str], *, batch: int = 500
) -> ReplayStats:
    rows = read_calls(calls_path)
    stats = ReplayStats()
    started = time.perf_counter()
    for answer in intake.take_many(rows, batch=batch):
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
