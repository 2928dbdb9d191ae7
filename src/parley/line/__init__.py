"""The line: signed, acknowledged requests between parties, and a log each party verifies on its own.

Pure domain code (no I/O but the key files of :mod:`.keys`): canonical JSON (RFC 8785), Ed25519 keys
and signatures, log entries and their hash chains, the request life cycle, transcript verification.
Format and rules: ``docs/line.md``.
"""

from pathlib import Path as _Path


def _refuse_stale_compiled_modules(here: _Path) -> None:
    """The hot modules of the line may be compiled (mypyc, see ``setup.py``): a compiled module is
    imported in place of its source, so one built before the source's last change would run old
    code. Refuse that, naming what to do."""
    for compiled in here.glob("*.cpython-*.so"):
        source = here / (compiled.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > compiled.stat().st_mtime + 2.0:
            raise ImportError(
                f"{compiled.name} was built before the last change to {source.name}: "
                "build it again (`make install`, or `pip install -e .`)"
            )


_refuse_stale_compiled_modules(_Path(__file__).parent)
