"""Alembic migrations of the gridcall schema."""
