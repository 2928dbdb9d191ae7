"""The examples in the tactical modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import parley.tactical

MODULES = sorted(m.name for m in pkgutil.iter_modules(parley.tactical.__path__, "parley.tactical."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
