"""The examples in the strategic modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import parley.strategic

MODULES = sorted(m.name for m in pkgutil.iter_modules(parley.strategic.__path__, "parley.strategic."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
