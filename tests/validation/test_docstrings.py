"""Every Examples section of the validation package runs and prints what it shows."""

import doctest
import importlib

import pytest

MODULES = ["validation.fit", "validation.simulate", "validation.compare", "validation.equivalence",
           "validation.control"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
    assert result.attempted > 0
