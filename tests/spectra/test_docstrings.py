"""Every Examples section of the spectra package runs and prints what it shows."""

import doctest
import importlib

import pytest

MODULES = ["spectra.analytic", "spectra.generators", "spectra.teachers", "spectra.features", "spectra.estimate",
           "spectra.dcgan", "spectra.spectrum"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
    assert result.attempted > 0 or name == "spectra.spectrum"
