"""``gridcall layers import``: read, validate, derive nodes, check the topology, store.

All or nothing: the package is checked completely in memory first, every problem is
collected, and only a package without errors is written, in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from pyproj import CRS
from sqlalchemy import Engine
from tqdm import tqdm

from gis.db import write_transaction
from layers.grid import GridData
from layers.network import NetworkModel
from layers.reader import PackageError, Problem, read_package
from layers.schematic import ensure_schematic
from layers.store import save_grid
from layers.topology import derive_nodes
from layers.validate import validate


@dataclass
class ImportReport:
    source: str
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    import_id: int | None = None
    seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Stages:
    """A progress bar over the import's stages (shown for large packages only)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.bar = tqdm(
            total=total,
            unit="stage",
            disable=not enabled,
            leave=False,
            bar_format="{desc:<34}{bar}| {n_fmt}/{total_fmt} [{elapsed}]",
        )

    def step(self, label: str) -> None:
        self.bar.set_description_str(label)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def prepare(
    path: str | Path,
    *,
    snap_tolerance: float = 1.0,
    crs: CRS | None = None,
    progress: bool = False,
) -> tuple[GridData | None, NetworkModel | None, list[Problem]]:
    """Everything but the write: the validated grid, its model, and every problem found."""
    stages = _Stages(progress, 5)
    try:
        stages.step("reading layers")
        try:
            raw, problems = read_package(path, crs_override=crs)
        except PackageError as exc:
            return None, None, [Problem("package", None, str(exc))]
        stages.step("checking features")
        data, more = validate(raw)
        problems.extend(more)
        if any(p.severity == "error" and p.feature_id is None for p in problems):
            # A whole layer is unusable (no CRS, a missing column or layer): islands and loops
            # traced without it would only bury the real problem.
            return None, None, problems
        stages.step("deriving connectivity")
        problems.extend(derive_nodes(data, snap_tolerance))
        stages.step("tracing the network")
        model = NetworkModel(data)
        # Feature errors first: islands and loops computed on broken data would mislead,
        # but a broken topology is still worth reporting when it is unrelated.
        broken = {p.feature_id for p in problems if p.severity == "error"}
        problems.extend(p for p in model.check() if p.feature_id not in broken)
        stages.step("one-line diagrams")
        ensure_schematic(data, model)
        return data, model, problems
    finally:
        stages.close()


def import_package(
    engine: Engine,
    path: str | Path,
    *,
    snap_tolerance: float = 1.0,
    crs: CRS | None = None,
    progress: bool = False,
) -> ImportReport:
    started = time.perf_counter()
    report = ImportReport(str(path))
    data, _model, problems = prepare(
        path, snap_tolerance=snap_tolerance, crs=crs, progress=progress
    )
    report.problems = problems
    if data is None or not report.ok:
        report.seconds = time.perf_counter() - started
        return report
    total = sum(len(f) for f in data.frames.values())
    bar = tqdm(
        total=total,
        unit="feature",
        disable=not progress,
        leave=False,
        desc="writing to the database",
    )
    with write_transaction(engine) as conn:
        report.import_id = save_grid(
            conn,
            data,
            source=str(path),
            snap_tolerance=snap_tolerance,
            warnings=[str(p) for p in report.warnings],
            progress=lambda _name, n: bar.update(n),
        )
    bar.close()
    report.counts = {name: len(frame) for name, frame in data.frames.items()}
    report.seconds = time.perf_counter() - started
    return report
