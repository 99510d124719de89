"""Imports every module that declares tables, so that the shared metadata is complete.

Alembic's environment and ``gridcall db init`` import this; nothing else needs to.
"""

import importlib

for _module in ("layers.store", "outages.store", "dispatch.store", "api.auth_store"):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:  # a package that declares no tables yet
        if exc.name != _module:
            raise
