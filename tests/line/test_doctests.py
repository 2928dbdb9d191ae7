"""The examples in the line modules' docstrings run, from each module's source: a module compiled
with mypyc (see ``setup.py``) keeps no docstrings of its functions for doctest to find."""

from __future__ import annotations

import doctest
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path

import pytest

import parley.line

SOURCES = sorted(Path(parley.line.__path__[0]).glob("*.py"))
MODULES = sorted(m.name for m in pkgutil.iter_modules(parley.line.__path__, "parley.line."))


def test_every_module_has_its_source() -> None:
    assert {f"parley.line.{p.stem}" for p in SOURCES if p.stem != "__init__"} >= set(MODULES) - {
        "parley.line._ed25519"
    }


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_docstring_examples(source: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"_doctest_parley_line_{source.stem}", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while they are made
    try:
        spec.loader.exec_module(module)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    finally:
        del sys.modules[spec.name]
    assert result.failed == 0
    if ">>> " in source.read_text():
        assert result.attempted > 0, f"no example of {source.name} ran"


def test_a_compiled_module_older_than_its_source_is_refused(tmp_path: Path) -> None:
    from parley.line import _refuse_stale_compiled_modules

    source, compiled = tmp_path / "entry.py", tmp_path / "entry.cpython-311-x86_64-linux-gnu.so"
    compiled.write_bytes(b"")
    source.write_text("")
    os.utime(compiled, (1_000_000, 1_000_000))
    os.utime(source, (1_000_010, 1_000_010))
    with pytest.raises(ImportError, match="make install"):
        _refuse_stale_compiled_modules(tmp_path)
    os.utime(compiled, (1_000_011, 1_000_011))
    _refuse_stale_compiled_modules(tmp_path)  # built after the change: fine
