r"""The one activation registry of the library: each name means one function, everywhere.

``"erf"`` is :math:`\mathrm{erf}(z)` and ``"erf_sqrt2"`` is :math:`\mathrm{erf}(z/\sqrt 2)` (the committee/ODE
activation of theory §1.4); generators, feature maps, teachers, the analytic covariances and the ODEs all look
names up here (:data:`ACTIVATIONS`, :func:`get_activation`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["ACTIVATIONS", "Activation", "activation_choices", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """A pointwise non-linearity with what the analytic code needs to know about it.

    This registry is the one place where activation names are defined; every package (spectra's generators,
    feature maps, teachers and analytic covariances, the online-SGD dynamics, the CLIs) looks names up here,
    so a name means the same function everywhere. In particular ``"erf"`` is :math:`\\mathrm{erf}(z)` and
    ``"erf_sqrt2"`` is :math:`\\mathrm{erf}(z/\\sqrt2) = 2\\Phi(z) - 1` (the unit of Saad & Solla's online-SGD
    analysis).

    Attributes
    ----------
    name : str
        Registry name.
    func : callable
        Vectorised function, applied in the dtype of its input.
    smooth : bool
        True if the function is analytic on the real line; False if it has a kink or jump at 0 (then
        Gaussian expectations are integrated on each half-line separately).
    formula : str
        The function in words, e.g. ``"erf(z/sqrt(2))"``; printed by CLIs and error messages.
    derivative : callable or None
        Vectorised :math:`g'(z)` (almost everywhere for ``relu``); None where the derivative is not a function
        (``sign``: :math:`2\\delta(z)`).

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.activations import get_activation
    >>> act = get_activation("erf_sqrt2")
    >>> act.formula, round(float(act(np.array(1.0))), 6)   # erf(1/sqrt 2) = P(|Z| < 1)
    ('erf(z/sqrt(2))', 0.682689)
    """

    name: str
    func: Callable[[np.ndarray], np.ndarray]
    smooth: bool
    formula: str = ""
    derivative: Callable[[np.ndarray], np.ndarray] | None = None

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.func(z)

    def dg(self, z: np.ndarray) -> np.ndarray:
        """:math:`g'(z)`, vectorised; a ``ValueError`` for activations without a derivative function."""
        if self.derivative is None:
            raise ValueError(f"activation {self.name!r} ({self.formula}) has no derivative function; gradient "
                             "training needs a differentiable activation")
        return self.derivative(z)


_INV_SQRT2 = 0.7071067811865476  # Python floats keep float32 inputs float32 (NEP 50)
_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/sqrt(pi)
_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi)


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def _relu_derivative(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z)
    return (z > 0).astype(z.dtype if z.dtype.kind == "f" else float)


def _erf(z: np.ndarray) -> np.ndarray:
    return special.erf(z)


def _erf_derivative(z: np.ndarray) -> np.ndarray:
    return _TWO_OVER_SQRT_PI * np.exp(-np.square(z))


def _erf_sqrt2(z: np.ndarray) -> np.ndarray:
    return special.erf(z * _INV_SQRT2)


def _erf_sqrt2_derivative(z: np.ndarray) -> np.ndarray:
    return _SQRT_2_OVER_PI * np.exp(-0.5 * np.square(z))


def _tanh_derivative(z: np.ndarray) -> np.ndarray:
    return 1 - np.square(np.tanh(z))


def _identity(z: np.ndarray) -> np.ndarray:
    return z


def _ones(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z)
    return np.ones_like(z, dtype=z.dtype if z.dtype.kind == "f" else float)


ACTIVATIONS: dict[str, Activation] = {
    "sign": Activation("sign", np.sign, smooth=False, formula="sign(z)"),
    "erf": Activation("erf", _erf, smooth=True, formula="erf(z)", derivative=_erf_derivative),
    "erf_sqrt2": Activation("erf_sqrt2", _erf_sqrt2, smooth=True, formula="erf(z/sqrt(2))",
                            derivative=_erf_sqrt2_derivative),
    "tanh": Activation("tanh", np.tanh, smooth=True, formula="tanh(z)", derivative=_tanh_derivative),
    "relu": Activation("relu", _relu, smooth=False, formula="max(z, 0)", derivative=_relu_derivative),
    "linear": Activation("linear", _identity, smooth=True, formula="z", derivative=_ones),
}


def activation_choices(names: tuple[str, ...] | None = None) -> str:
    """``"'erf' (erf(z)), 'erf_sqrt2' (erf(z/sqrt(2))), ..."``: names with their formulas, for messages."""
    names = tuple(ACTIVATIONS) if names is None else names
    return ", ".join(f"{n!r} ({ACTIVATIONS[n].formula})" for n in names)


def get_activation(name: str | Activation, allowed: tuple[str, ...] | None = None,
                   argname: str = "activation") -> Activation:
    """Look up an activation by name, with an error listing the valid names and their formulas.

    Examples
    --------
    >>> get_activation("erf").formula
    'erf(z)'
    >>> get_activation("erf2")
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'erf2'; choose one of 'sign' (sign(z)), 'erf' (erf(z)), 'erf_sqrt2' \
(erf(z/sqrt(2))), 'tanh' (tanh(z)), 'relu' (max(z, 0)), 'linear' (z)
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argname} must be a string, got {type(name).__name__}")
    names = allowed if allowed is not None else tuple(ACTIVATIONS)
    if name not in names:
        raise ValueError(f"unknown {argname} {name!r}; choose one of {activation_choices(names)}")
    return ACTIVATIONS[name]
