"""Imports every module that declares tables, so that the shared metadata is complete.

Alembic's environment and ``gridcall db init`` import this; nothing else needs to.
"""

import layers.store  # noqa: F401
