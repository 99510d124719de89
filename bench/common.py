"""Shared pieces of the benchmarks: the machine, a result row, the demo county cache."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("GRIDCALL_BENCH_CACHE", "/tmp/gridcall-bench"))


@dataclass
class Row:
    bench: str
    case: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    goal: str = ""

    def cells(self) -> list[str]:
        base = (
            f"{self.baseline}: {self.baseline_value:,.3g}"
            if self.baseline_value is not None
            else self.baseline
        )
        return [self.bench, self.case, f"{self.value:,.4g} {self.unit}", base, self.goal]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with Path("/proc/cpuinfo").open() as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
        f"{python_speed():.2f} s for 10M Python additions"
    )


def python_speed(n: int = 10_000_000) -> float:
    """Seconds for a loop of ``n`` additions in plain Python, best of three: machines of
    the same name run the replay up to twice as fast or slow, and the grouping is plain
    Python, so figures from two runs compare only beside this."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(n):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


@contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


def county(scale: float, seed: int = 0) -> Path:
    """The demo county's package at this scale, written once per cache."""
    from layers.demo.county import write_county

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"county-{scale:g}-{seed}.gpkg"
    if not path.exists():
        tmp = path.with_suffix(".tmp.gpkg")
        tmp.unlink(missing_ok=True)
        write_county(tmp, seed=seed, scale=scale)
        tmp.rename(path)
    return path


def run_child(args: list[str], env: dict[str, str] | None = None) -> str:
    """Runs a command in a fresh process (peak memory measured per process)."""
    out = subprocess.run(
        args, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    return out.stdout


def format_table(rows: list[Row]) -> str:
    header = ["bench", "case", "gridcall", "baseline (same run)", "goal"]
    cells = [header] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c[i].ljust(widths[i]) for i in range(len(header))) + " |" for c in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
