"""Alembic revisions, oldest first; each creates or changes tables as ``tables.py`` then stands."""
