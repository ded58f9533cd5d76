"""Argument checks shared by every package: one wording, one behaviour (scikit-learn style).

Each check returns the value converted to the type the caller computes with, or raises ``TypeError`` (wrong
kind of object) or ``ValueError`` (right kind, bad value) with a message that names the argument and says
what is expected. numpy scalars and 0-d arrays count as numbers; booleans never do.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["real", "integer", "flag", "grid", "vector", "matrix", "finite", "instance"]


def _scalar(value):
    """A Python/numpy scalar from a 0-d array (``np.asarray(2.0)`` is a number to a user)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    return value


def real(name: str, value, *, low: float | None = None, high: float | None = None, low_open: bool = False,
         high_open: bool = False) -> float:
    """``value`` as a finite float inside the given bounds (closed unless ``*_open``).

    Examples
    --------
    >>> real("alpha", 2, low=0.0, low_open=True)
    2.0
    >>> real("alpha", 0.0, low=0.0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be > 0, got 0.0
    """
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v <= low if low_open else v < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {v!r}")
    if high is not None and (v >= high if high_open else v > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {v!r}")
    return v


def integer(name: str, value, minimum: int | None = 1) -> int:
    """``value`` as an int ``>= minimum`` (``minimum=None``: no bound). Floats are refused, even ``2.0``.

    Examples
    --------
    >>> integer("seeds", 3)
    3
    >>> integer("seeds", 2.0)
    Traceback (most recent call last):
    ...
    TypeError: seeds must be an int, got float 2.0
    """
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def flag(name: str, value) -> bool:
    """``value`` as a bool; only ``True``/``False`` (and numpy bools) are accepted, never ``0``/``1`` or ``"no"``.

    Examples
    --------
    >>> flag("train_second_layer", np.True_)
    True
    >>> flag("train_second_layer", 1)
    Traceback (most recent call last):
    ...
    TypeError: train_second_layer must be a bool (True or False), got int 1
    """
    value = _scalar(value)
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__} {value!r}")
    return bool(value)


def grid(name: str, values, *, low: float | None = None, low_open: bool = False) -> np.ndarray:
    """A non-empty, finite 1-d float array (a scalar becomes one point), every entry above ``low``.

    Examples
    --------
    >>> grid("alphas", [0.5, 1.0], low=0.0, low_open=True)
    array([0.5, 1. ])
    """
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of real numbers, got {type(values).__name__}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} must be finite; entry {bad[0]} is {arr[bad[0]]}")
    if low is not None:
        out = arr <= low if low_open else arr < low
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise ValueError(f"{name} must all be {'>' if low_open else '>='} {low:g}; entry {i} is {arr[i]:g}")
    return arr


def finite(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` unchanged if every entry is finite; a ValueError naming the first bad entry otherwise."""
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        raise ValueError(f"{name} must be finite; entry {idx if len(idx) > 1 else idx[0]} is {arr[idx]}")
    return arr


def _real_array(name: str, value, dtype) -> np.ndarray:
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        if np.any(np.imag(arr) != 0):
            raise ValueError(f"{name} must be real; it has complex entries (largest imaginary part "
                             f"{float(np.max(np.abs(np.imag(arr)))):.3g})")
        arr = np.real(arr)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=dtype)


def vector(name: str, value, *, size: int | None = None, dtype=float) -> np.ndarray:
    """A finite, non-empty 1-d real array (of length ``size`` if given); complex input is refused.

    Examples
    --------
    >>> vector("s", [1, 2])
    array([1., 2.])
    """
    arr = _real_array(name, value, dtype)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array, got shape {arr.shape}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} must have length {size}, got {arr.size}")
    return finite(name, arr)


def matrix(name: str, value, shape: tuple[int | None, int | None] = (None, None), *, dtype=float) -> np.ndarray:
    """A finite 2-d real array of the given shape (``None`` matches any size); complex input is refused.

    ``dtype=None`` keeps a floating input's precision (float32 stays float32).

    Examples
    --------
    >>> matrix("phi", [[1, 0], [0, 1]], (2, None)).shape
    (2, 2)
    """
    if dtype is None:
        arr = _real_array(name, value, None)
        if arr.dtype.kind != "f":
            arr = arr.astype(float)
    else:
        arr = _real_array(name, value, dtype)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got shape {arr.shape}")
    for axis, want in enumerate(shape):
        if want is not None and arr.shape[axis] != want:
            want_txt = ", ".join("*" if s is None else str(s) for s in shape)
            raise ValueError(f"{name} must have shape ({want_txt}), got {arr.shape}")
    return finite(name, arr)


def instance(name: str, value, cls: type | tuple[type, ...], example: str = ""):
    """``value`` unchanged if it is an instance of ``cls`` (a class or a tuple of classes); a TypeError naming the
    argument, the expected class as users import it (``replica.Channel``) and an ``example`` otherwise.

    Examples
    --------
    >>> from fractions import Fraction
    >>> instance("x", Fraction(1, 2), Fraction)
    Fraction(1, 2)
    >>> instance("x", 0.5, Fraction, "Fraction(1, 2)")
    Traceback (most recent call last):
    ...
    TypeError: x must be a fractions.Fraction (e.g. Fraction(1, 2)), got float
    """
    if isinstance(value, cls):
        return value
    classes = cls if isinstance(cls, tuple) else (cls,)
    wanted = " or ".join(f"{c.__module__.split('.')[0]}.{c.__name__}" for c in classes)
    hint = f" (e.g. {example})" if example else ""
    raise TypeError(f"{name} must be a {wanted}{hint}, got {type(value).__name__}")
