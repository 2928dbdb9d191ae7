"""The examples in the line modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import parley.line

MODULES = sorted(m.name for m in pkgutil.iter_modules(parley.line.__path__, "parley.line."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
