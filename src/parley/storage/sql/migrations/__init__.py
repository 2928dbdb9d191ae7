"""Alembic migrations of the DSS schema (run through :mod:`parley.storage.sql.migrate`)."""
