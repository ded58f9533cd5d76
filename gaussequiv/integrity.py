"""Detect a foreign package shadowing one of ours.

gaussequiv installs the top-level packages ``replica``, ``spectra``, ``validation`` and ``dynamics`` (the
design's names). Unrelated projects with the same names exist on the package index; if one of them is
installed, ``import spectra`` may load it instead of ours and fail later with a confusing error. Each of our
packages carries the marker ``__gaussequiv__ = True``; :func:`require_own` imports a package by name and
refuses anything without the marker, with a message that says what to do.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["OWN_PACKAGES", "ForeignPackageError", "require_own"]

#: The top-level packages gaussequiv installs.
OWN_PACKAGES = ("spectra", "replica", "validation", "dynamics")


class ForeignPackageError(ImportError):
    """A package with one of gaussequiv's top-level names is not gaussequiv's."""


def require_own(name: str) -> ModuleType:
    """Import the top-level package ``name`` and check that it is gaussequiv's.

    Raises
    ------
    ForeignPackageError
        Another installed project provides a package called ``name`` and shadows ours.

    Examples
    --------
    >>> require_own("spectra").__name__
    'spectra'
    """
    module = importlib.import_module(name)
    if getattr(module, "__gaussequiv__", False) is not True:
        where = getattr(module, "__file__", None) or "an unknown location"
        raise ForeignPackageError(
            f"the package {name!r} imported from {where} is not gaussequiv's: another project called {name!r} is "
            f"installed and shadows it. Uninstall it (pip uninstall {name}) or install gaussequiv in its own "
            "virtual environment.")
    return module
