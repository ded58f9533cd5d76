"""Detect a foreign package shadowing one of ours.

gaussequiv installs the top-level packages ``replica``, ``spectra``, ``validation`` and ``dynamics`` (the
design's names). Unrelated projects with the same names exist on the package index; if one of them is
installed, ``import spectra`` may load it instead of ours and fail later with a confusing error. Each of our
packages carries the marker ``__gaussequiv__ = True``; :func:`require_own` imports a package by name and
refuses anything without the marker, with a message that says what to do.

The packages load their submodules on first use (:func:`lazy_exports`, PEP 562): ``import replica`` costs what
its marker and its check of ``spectra`` cost, and ``replica.solve`` imports the solver when it is first read, so
that a command, a test or a script pays only for what it uses (issue 13).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["OWN_PACKAGES", "ForeignPackageError", "lazy_exports", "require_own"]

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
    # read the module's own namespace: a lazy package's __getattr__ can neither answer for the marker nor import
    if vars(module).get("__gaussequiv__", False) is not True:
        where = getattr(module, "__file__", None) or "an unknown location"
        raise ForeignPackageError(
            f"the package {name!r} imported from {where} is not gaussequiv's: another project called {name!r} is "
            f"installed and shadows it. Uninstall it (pip uninstall {name}) or install gaussequiv in its own "
            "virtual environment.")
    return module


class _LazyPackage(ModuleType):
    """A package module whose public functions keep their names when a submodule of the same name is imported.

    ``validation.simulate`` is the function :func:`validation.simulate.simulate`; importing the submodule
    ``validation.simulate`` (by any code, at any time) makes the import system set the package attribute
    ``simulate`` to the submodule. Eager imports in ``__init__`` rebound the name right after; a lazy package drops
    that assignment instead, so the name resolves to the function (through ``__getattr__``) as before.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        shadowed = vars(self).get("__shadowed__", ())
        if name in shadowed and isinstance(value, ModuleType) and value.__name__ == f"{self.__name__}.{name}":
            return
        super().__setattr__(name, value)


def lazy_exports(package: str, attributes: Mapping[str, str],
                 submodules: Iterable[str] = ()) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` (PEP 562) of a package whose public names load on first use.

    Parameters
    ----------
    package : str
        The package's name (its ``__name__``).
    attributes : mapping of str to str
        Public name -> the submodule (relative to ``package``) that defines it, e.g. ``{"solve": "solver"}``.
    submodules : iterable of str
        Submodules that are themselves public names (``spectra.generators``).

    Returns
    -------
    __getattr__, __dir__
        To be assigned to the package's module-level ``__getattr__`` and ``__dir__``. ``__getattr__`` imports the
        submodule of a public name, stores the value in the package namespace (later reads cost nothing) and
        returns it; any other name that is a submodule of the package (``replica.quadrature``) is imported too,
        as the eager ``__init__`` made it available; dunder names are never looked up (``hasattr(package,
        "__wrapped__")`` imports nothing).

    Examples
    --------
    >>> import replica
    >>> replica.solve.__module__
    'replica.solver'
    >>> "solve" in dir(replica)
    True
    """
    attributes = dict(attributes)
    submodules = tuple(submodules)
    shadowed = tuple(name for name, module in attributes.items() if module == name)
    if shadowed:  # a function named as its own submodule (validation.simulate): see _LazyPackage
        module = sys.modules[package]
        vars(module)["__shadowed__"] = shadowed
        module.__class__ = _LazyPackage

    def __getattr__(name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if name in attributes:
            value = getattr(importlib.import_module(f"{package}.{attributes[name]}"), name)
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise  # the submodule exists but needs something missing: say so
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        vars(sys.modules[package])[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(attributes) | set(submodules))

    return __getattr__, __dir__
