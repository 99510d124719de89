"""Autogenerates an Alembic revision from the tables declared on gis.db.metadata.

Usage: .venv/bin/python scripts/new-migration.py REV_ID "message"
It migrates a scratch SpatiaLite database to head, then compares it with the metadata.
Read the generated file before committing it.
"""

import sys
import tempfile
from pathlib import Path

from alembic import command

from api.dbadmin import alembic_config
from gis.db import make_engine

rev_id, message = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(str(Path(tmp) / "scratch.db"))
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
