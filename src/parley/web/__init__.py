"""The built map page (``static/``, built from the repository's ``web/`` by ``make web``)."""

from __future__ import annotations

from pathlib import Path

#: The built page: ``index.html``, ``assets/`` and ``build-info.json`` (the sources it was built from).
STATIC_DIR = Path(__file__).resolve().parent / "static"
