"""The Alembic migrations create exactly the schema the code declares, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers

import api.schema  # noqa: F401
from api.dbadmin import current_revision
from gis.db import metadata


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and reflected and compare_to is None:
        return False  # the spatial extensions' own tables
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))  # type: ignore[no-untyped-call]


def test_migrated_database_matches_the_declared_tables(engine: Any) -> None:
    assert current_revision(engine) is not None
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": False}
        )
        diff = compare_metadata(context, metadata)
    # indexes on spatial columns are managed by the extensions themselves
    diff = [
        d
        for d in diff
        if not (
            isinstance(d, tuple) and d[0] in ("add_index", "remove_index") and "geom" in str(d[1])
        )
    ]
    assert diff == []
