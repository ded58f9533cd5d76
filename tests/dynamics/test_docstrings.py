"""Every Examples section in the dynamics package runs and gives the documented output."""

import doctest
import importlib

import pytest

MODULES = ["dynamics.integrals", "dynamics.setup", "dynamics.ode", "dynamics.sgd", "dynamics.trajectory"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    """doctest of the module's docstrings (reference: the outputs written in the Examples)."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
