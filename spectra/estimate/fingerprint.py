"""Fingerprints: a hash of everything a generator or feature map computes with, for cache and checkpoint keys.

Two objects get the same fingerprint only if they hold the same state and run the same code, so a cache or
checkpoint file of one model is never handed to another. The hash covers

* the object's class (name; for classes outside gaussequiv and outside installed packages also the bytecode
  of their methods) and **every** attribute, private ones included, recursively (arrays by dtype, shape and
  bytes);
* for plain functions, lambdas and closures defined in user code: their bytecode, constants, defaults, the
  contents of their closure cells and the values of the module globals they refer to, recursively;
* for functions and classes of gaussequiv and of installed packages (numpy, scipy, ...): their qualified
  name (their code is versioned with the package; cache keys also carry gaussequiv's version).

What cannot be seen is refused, not skipped: an object of a C type that keeps hidden state (a
``numpy.random.Generator``, a torch module, a lock, ...) raises :class:`FingerprintError` naming the
attribute path. Such a model can still be cached under an explicit ``model_key`` (see
:func:`spectra.estimate_covariances`), or by giving it a ``fingerprint()`` method returning a string that
changes whenever its outputs would.

Not covered: files or network resources read at call time, and state reached only through attribute access
on modules (``np.some_module_level_array``). Such models need an explicit ``model_key``.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import struct
import sys
import sysconfig
import types

import numpy as np

__all__ = ["FingerprintError", "fingerprint"]

#: Packages whose code is identified by name (versioned with gaussequiv).
LIBRARY_PACKAGES = ("spectra", "replica", "validation", "dynamics", "gaussequiv", "paper_figures")
_HEAPTYPE = 1 << 9
_SKIP_CLASS_ATTRS = {"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__", "__annotations__",
                     "__dataclass_fields__", "__dataclass_params__", "__match_args__", "__slots__",
                     "__firstlineno__", "__static_attributes__", "__orig_bases__", "__parameters__",
                     "_abc_impl"}


class FingerprintError(TypeError):
    """An object (or one of its attributes) whose state cannot be hashed; the message names the path."""


@functools.lru_cache(maxsize=1)
def _installed_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(os.path.realpath(p) + os.sep for p in roots if p)


@functools.lru_cache(maxsize=4096)
def _module_kind(name: str | None) -> str:
    """``"library"`` (gaussequiv), ``"installed"`` (stdlib / site-packages / built in) or ``"user"``."""
    if not name:
        return "user"
    if name.split(".")[0] in LIBRARY_PACKAGES:
        return "library"
    if name in sys.builtin_module_names or name == "builtins":
        return "installed"
    mod = sys.modules.get(name)
    path = getattr(mod, "__file__", None)
    if mod is None or path is None:
        return "installed" if mod is not None else "user"
    return "installed" if os.path.realpath(path).startswith(_installed_prefixes()) else "user"


def _named(obj) -> bool:
    """True if ``obj`` is the object its module exposes under its qualified name (a module-level definition)."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return False
    target = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target is obj


def _python_class(cls: type) -> bool:
    """True if instances of ``cls`` keep all their state in ``__dict__`` and ``__slots__`` (a class written in
    Python), False for C types whose instances hold state the hash cannot see."""
    for c in cls.__mro__[:-1]:
        if not c.__flags__ & _HEAPTYPE:
            return False
        slots = c.__dict__.get("__slots__", ())
        slots = (slots,) if isinstance(slots, str) else tuple(slots)
        for key, value in vars(c).items():
            if isinstance(value, (types.MethodDescriptorType, types.WrapperDescriptorType,
                                  types.ClassMethodDescriptorType)):
                return False
            if isinstance(value, types.GetSetDescriptorType) and key not in ("__dict__", "__weakref__"):
                return False
            if isinstance(value, types.MemberDescriptorType) and key not in slots:
                return False
    return True


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


class _Hasher:
    def __init__(self):
        self.h = hashlib.sha256()
        self.memo: dict[int, int] = {}
        self.keep: list = []  # keeps memoised objects alive, so their ids are not reused during the walk

    def tag(self, text: str) -> None:
        data = text.encode("utf-8")
        self.h.update(struct.pack("<Q", len(data)))
        self.h.update(data)

    def raw(self, data) -> None:
        data = memoryview(data).cast("B")
        self.h.update(struct.pack("<Q", data.nbytes))
        self.h.update(data)

    # -------------------------------------------------------------------------------------- dispatch
    def feed(self, obj, path: str) -> None:
        if obj is None or obj is Ellipsis or type(obj) in (bool, int, float, complex, str):
            self.tag(f"{type(obj).__name__}:{obj!r}")
            return
        if isinstance(obj, enum.Enum):
            self.feed(type(obj), path + ".__class__")
            self.tag(f"enum:{obj.name}")
            return
        if type(obj) is bytes:
            self.tag("bytes")
            self.raw(obj)
            return
        if isinstance(obj, np.generic):
            self.tag(f"np.generic:{obj.dtype.str}")
            self.raw(np.ascontiguousarray(obj).view(np.uint8))
            return
        if isinstance(obj, (np.dtype, range, slice)):
            self.tag(f"{type(obj).__name__}:{obj!r}")
            return
        key = id(obj)
        if key in self.memo:
            self.tag(f"ref:{self.memo[key]}")
            return
        self.memo[key] = len(self.memo)
        self.keep.append(obj)
        self.tag(f"obj:{self.memo[key]}")
        self._feed_object(obj, path)

    def _feed_object(self, obj, path: str) -> None:
        if isinstance(obj, np.ndarray):
            return self._array(obj, path)
        if isinstance(obj, (list, tuple, dict, set, frozenset, types.MappingProxyType)):
            return self._container(obj, path)
        if isinstance(obj, type):
            return self._class(obj, path)
        if isinstance(obj, types.ModuleType):
            return self.tag(f"module:{obj.__name__}")
        own = getattr(type(obj), "fingerprint", None)
        if callable(own) and not isinstance(obj, (types.FunctionType, types.MethodType)):
            value = obj.fingerprint()
            if not isinstance(value, (str, bytes)):
                raise FingerprintError(f"{path}.fingerprint() returned {type(value).__name__}, expected a string")
            self.feed(type(obj), path + ".__class__")
            return self.tag(f"fingerprint:{value!r}")
        if isinstance(obj, types.FunctionType):
            return self._function(obj, path)
        if isinstance(obj, types.MethodType):
            self.tag("method")
            self.feed(obj.__func__, path + ".__func__")
            return self.feed(obj.__self__, path + ".__self__")
        if isinstance(obj, functools.partial):
            self.tag("partial")
            self.feed(obj.func, path + ".func")
            self.feed(obj.args, path + ".args")
            return self.feed(obj.keywords, path + ".keywords")
        if isinstance(obj, (staticmethod, classmethod)):
            self.tag(type(obj).__name__)
            return self.feed(obj.__func__, path + ".__func__")
        if isinstance(obj, property):
            self.tag("property")
            for name in ("fget", "fset", "fdel"):
                self.feed(getattr(obj, name), f"{path}.{name}")
            return None
        if isinstance(obj, np.ufunc):
            return self.tag(f"ufunc:{obj.__name__}")
        if isinstance(obj, types.CodeType):
            return self._code(obj, path)
        if isinstance(obj, types.BuiltinFunctionType):
            owner = obj.__self__
            self.tag(f"builtin:{getattr(obj, '__module__', None)}:{obj.__qualname__}")
            if owner is not None and not isinstance(owner, types.ModuleType):
                self.feed(owner, path + ".__self__")
            return None
        if callable(obj) and _named(obj) and _module_kind(obj.__module__) != "user":
            return self.tag(f"named:{obj.__module__}:{obj.__qualname__}")
        if _python_class(type(obj)):
            return self._instance(obj, path)
        raise FingerprintError(f"{path} is a {type(obj).__module__}.{type(obj).__qualname__}, whose state "
                               f"spectra cannot see")

    # -------------------------------------------------------------------------------------- kinds
    def _array(self, arr: np.ndarray, path: str) -> None:
        if type(arr) is not np.ndarray:
            self.feed(type(arr), path + ".__class__")
        if arr.dtype.hasobject:
            self.tag(f"object-array:{arr.shape}")
            for i, item in enumerate(arr.ravel(order="C").tolist()):
                self.feed(item, f"{path}[{i}]")
            return
        self.tag(f"array:{arr.dtype.str}:{arr.dtype.descr!r}:{arr.shape}")
        self.raw(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))

    def _container(self, obj, path: str) -> None:
        base = next(t for t in (list, tuple, dict, set, frozenset, types.MappingProxyType) if isinstance(obj, t))
        self.tag(f"{base.__name__}:{len(obj)}")
        if type(obj) is not base:
            self.feed(type(obj), path + ".__class__")
            if hasattr(obj, "__dict__"):
                self.feed(vars(obj), path + ".__dict__")
        if base in (list, tuple):
            for i, item in enumerate(obj):
                self.feed(item, f"{path}[{i}]")
        elif base in (set, frozenset):
            self.tag("unordered")
            for digest in sorted(_digest(item, f"{path} item") for item in obj):
                self.tag(digest)
        else:
            items = sorted(((_digest(k, f"{path} key {k!r}"), k) for k in obj), key=lambda dk: dk[0])
            for digest, k in items:
                self.tag(digest)
                self.feed(obj[k], f"{path}[{k!r}]")

    def _class(self, cls: type, path: str) -> None:
        self.tag(f"class:{cls.__module__}:{cls.__qualname__}")
        if _module_kind(cls.__module__) != "user":
            return
        for i, base in enumerate(cls.__bases__):
            self.feed(base, f"{path}.__bases__[{i}]")
        for name in sorted(vars(cls)):
            if name in _SKIP_CLASS_ATTRS:
                continue
            value = vars(cls)[name]
            if isinstance(value, (types.GetSetDescriptorType, types.MemberDescriptorType)):
                continue
            self.tag(name)
            self.feed(value, f"{cls.__qualname__}.{name}")

    def _function(self, fn: types.FunctionType, path: str) -> None:
        self.tag(f"function:{fn.__module__}:{fn.__qualname__}")
        self.feed(fn.__defaults__, path + ".__defaults__")
        self.feed(fn.__kwdefaults__, path + ".__kwdefaults__")
        cells = fn.__closure__ or ()
        self.tag(f"closure:{len(cells)}")
        for name, cell in zip(fn.__code__.co_freevars, cells, strict=True):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                self.tag("empty-cell")
                continue
            self.feed(value, f"{path} closure variable {name!r}")
        if _module_kind(fn.__module__) == "library":
            return
        self._code(fn.__code__, path)
        glob = fn.__globals__
        for name in sorted(_code_names(fn.__code__)):
            if name in glob:
                self.tag(f"global:{name}")
                self.feed(glob[name], f"{path} global {name!r}")

    def _code(self, code: types.CodeType, path: str) -> None:
        self.tag(f"code:{code.co_argcount}:{code.co_kwonlyargcount}:{code.co_flags}:{code.co_names!r}:"
                 f"{code.co_varnames!r}:{code.co_freevars!r}:{code.co_cellvars!r}")
        self.raw(code.co_code)
        for i, const in enumerate(code.co_consts):
            self.feed(const, f"{path} constant {i}")

    def _instance(self, obj, path: str) -> None:
        cls = type(obj)
        self.feed(cls, path + ".__class__")
        state = dict(getattr(obj, "__dict__", {}))
        for c in cls.__mro__:
            slots = c.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name not in ("__dict__", "__weakref__") and name not in state:
                    try:
                        state[name] = getattr(obj, name)
                    except AttributeError:
                        state[name] = _Unset
        self.tag(f"attrs:{len(state)}")
        for name in sorted(state):
            self.tag(name)
            self.feed(state[name], f"{path}.{name}")


class _Unset:
    """Marker of an unset slot."""


def _digest(obj, path: str) -> str:
    h = _Hasher()
    h.feed(obj, path)
    return h.h.hexdigest()


def fingerprint(obj, name: str = "obj") -> str:
    """A hex digest of everything ``obj`` computes with (see the module docstring); ``"none"`` for None.

    Raises
    ------
    FingerprintError
        Some attribute holds state the hash cannot see; the message names it (``name`` starts the path).

    Examples
    --------
    >>> from spectra.generators import SingleLayer
    >>> fingerprint(SingleLayer(4, 6, seed=0)) == fingerprint(SingleLayer(4, 6, seed=0))
    True
    >>> fingerprint(SingleLayer(4, 6, seed=0)) == fingerprint(SingleLayer(4, 6, seed=1))
    False
    >>> import numpy as np
    >>> fingerprint(np.random.default_rng(0), "gen")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    spectra.estimate.fingerprint.FingerprintError: gen is a numpy.random._generator.Generator, whose state ...
    """
    if obj is None:
        return "none"
    try:
        return _digest(obj, name)[:32]
    except RecursionError:
        raise FingerprintError(f"{name} is nested too deeply to fingerprint") from None
