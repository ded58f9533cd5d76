r"""Gaussian integrals of the two-layer ODEs (theory §4.3) and the generalisation error (theory §4.5).

For a centred Gaussian vector :math:`z` with covariance ``C`` (student fields first, then teacher fields),

.. math::

    I_2(a,b) = E[g(z_a) g(z_b)],\quad I_3(a,b,c) = E[g'(z_a) z_b g(z_c)],\quad
    I_4(a,b,c,d) = E[g'(z_a) g'(z_b) g(z_c) g(z_d)].

Indices may repeat. Every function takes index *arrays* and evaluates all tuples in one vectorised call,
so the right-hand side of the ODEs never loops over index tuples or modes in Python.

Activations are named as in the one registry of the library, ``spectra.activations.ACTIVATIONS``; this module only
adds closed forms of their Gaussian integrals, keyed by the same names (:data:`CLOSED_FORMS`):

* ``"erf_sqrt2"``, :math:`g(z) = \mathrm{erf}(z/\sqrt2)`: Saad & Solla's closed forms (theory §4.3);
* ``"erf"``, :math:`g(z) = \mathrm{erf}(z) = h(\sqrt2 z)` with :math:`h` the previous unit: for
  :math:`g(z) = h(cz)` the substitution :math:`y = cz` gives :math:`I_2^g(C) = I_2^h(c^2C)`,
  :math:`I_3^g(C) = I_3^h(c^2C)` and :math:`I_4^g(C) = c^2 I_4^h(c^2C)` (here :math:`c^2 = 2`);
* ``"linear"``, :math:`g(z) = z`: the integrals are covariance entries.

Other registry activations (``tanh``, ``relu``, ``sign``) would need deterministic quadrature (never Monte
Carlo inside a right-hand side) and are refused with the list of supported names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectra.activations import Activation, activation_choices
from spectra.activations import get_activation as _registry_activation

__all__ = ["CLOSED_FORMS", "ODE_ACTIVATIONS", "GaussianIntegrals", "flat_entries", "gaussian_integrals",
           "generalisation_error"]


# Entries of C that each integral reads, as (row, column) pairs of positions in the index tuple.
_I2_ENTRIES = ((0, 0), (1, 1), (0, 1))
_I3_ENTRIES = ((0, 0), (0, 1), (0, 2), (1, 2), (2, 2))
_I4_ENTRIES = ((0, 0), (1, 1), (2, 2), (3, 3), (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def flat_entries(n: int, entries, *index) -> np.ndarray:
    """Flat positions in an ``n x n`` matrix of the entries an integral reads, shape ``(len(entries), ...)``.

    ``C.ravel()[flat_entries(...)]`` gathers everything one vectorised integral call needs in one step.
    """
    index = np.broadcast_arrays(*(np.asarray(i, dtype=int) for i in index))
    return np.stack([index[r] * n + index[c] for r, c in entries])


def _gather(C, entries, index) -> tuple[np.ndarray, ...]:
    C = np.asarray(C, dtype=float)
    n = C.shape[-1]
    flat = flat_entries(n, entries, *index)
    return tuple(C.reshape(*C.shape[:-2], n * n)[..., f] for f in flat)


@dataclass(frozen=True, eq=False)
class GaussianIntegrals:
    """Closed-form Gaussian integrals of one registry activation (see the module docstring).

    ``i2(C, a, b)``, ``i3(C, a, b, c)`` and ``i4(C, a, b, c, d)`` take a covariance ``C`` (``L x L``, or a
    batch ``(..., L, L)``) and broadcastable integer index arrays. The ``*_from`` variants take the gathered
    entries (in the order of ``_I2_ENTRIES``, ``_I3_ENTRIES``, ``_I4_ENTRIES``) and are what the ODE
    right-hand side calls. ``g`` and ``dg`` are the registry's function and derivative, so the simulation
    and the theory evaluate the same :math:`g`.

    Attributes
    ----------
    activation : spectra.activations.Activation
        The registry entry (name, function, derivative, formula).
    """

    activation: Activation

    @property
    def name(self) -> str:
        """Registry name of the activation."""
        return self.activation.name

    @property
    def formula(self) -> str:
        """The activation in words, e.g. ``"erf(z/sqrt(2))"``."""
        return self.activation.formula

    def g(self, z: np.ndarray) -> np.ndarray:
        """:math:`g(z)` (the registry function, in float64)."""
        return self.activation(np.asarray(z, dtype=float))

    def dg(self, z: np.ndarray) -> np.ndarray:
        """:math:`g'(z)` (the registry derivative, in float64)."""
        return self.activation.dg(np.asarray(z, dtype=float))

    def i2_from(self, c00, c11, c01) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def i3_from(self, c00, c01, c02, c12, c22) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def i4_from(self, c00, c11, c22, c33, c01, c02, c03, c12, c13, c23) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def i2(self, C, a, b) -> np.ndarray:
        """:math:`E[g(z_a) g(z_b)]`."""
        return self.i2_from(*_gather(C, _I2_ENTRIES, (a, b)))

    def i3(self, C, a, b, c) -> np.ndarray:
        """:math:`E[g'(z_a) z_b g(z_c)]`."""
        return self.i3_from(*_gather(C, _I3_ENTRIES, (a, b, c)))

    def i4(self, C, a, b, c, d) -> np.ndarray:
        """:math:`E[g'(z_a) g'(z_b) g(z_c) g(z_d)]`."""
        return self.i4_from(*_gather(C, _I4_ENTRIES, (a, b, c, d)))


_TWO_OVER_PI = 2.0 / np.pi
_FOUR_OVER_PI2 = 4.0 / np.pi**2


def _arcsin_checked(x: np.ndarray) -> np.ndarray:
    """``arcsin`` that refuses arguments outside [-1, 1] beyond round-off (a covariance that is not PSD)."""
    largest = np.abs(x).max()
    if largest <= 1.0:
        return np.arcsin(x)
    if not largest <= 1.0 + 1e-12:  # also catches NaN
        bad = ~(np.abs(x) <= 1.0 + 1e-12)
        raise FloatingPointError(
            f"arcsin argument {np.asarray(x)[bad].flat[0]!r} outside [-1, 1]: the covariance of the local "
            "fields is not positive semi-definite or contains NaN"
        )
    return np.arcsin(np.clip(x, -1.0, 1.0))  # round-off beyond +-1


@dataclass(frozen=True, eq=False)
class _ErfSqrt2(GaussianIntegrals):
    """``g(z) = erf(z / sqrt(2))``: Saad & Solla's closed forms (theory §4.3)."""

    def i2_from(self, c00, c11, c01):
        return _TWO_OVER_PI * _arcsin_checked(c01 / np.sqrt((1.0 + c00) * (1.0 + c11)))

    def i3_from(self, c00, c01, c02, c12, c22):
        one0 = 1.0 + c00
        lam3 = one0 * (1.0 + c22) - c02 * c02
        return _TWO_OVER_PI / np.sqrt(lam3) * (c12 * one0 - c01 * c02) / one0

    def i4_from(self, c00, c11, c22, c33, c01, c02, c03, c12, c13, c23):
        one0, one1 = 1.0 + c00, 1.0 + c11
        lam4 = one0 * one1 - c01 * c01
        lam0 = lam4 * c23 - c12 * c13 * one0 - c02 * c03 * one1 + c01 * c02 * c13 + c01 * c03 * c12
        lam1 = lam4 * (1.0 + c22) - c12 * c12 * one0 - c02 * c02 * one1 + 2.0 * c01 * c02 * c12
        lam2 = lam4 * (1.0 + c33) - c13 * c13 * one0 - c03 * c03 * one1 + 2.0 * c01 * c03 * c13
        return _FOUR_OVER_PI2 / np.sqrt(lam4) * _arcsin_checked(lam0 / np.sqrt(lam1 * lam2))


@dataclass(frozen=True, eq=False)
class _Rescaled(GaussianIntegrals):
    """``g(z) = h(c z)`` for an ``h`` with closed forms: the integrals of ``h`` at ``c^2 C`` (module docstring)."""

    base: GaussianIntegrals | None = None
    scale2: float = 1.0  # c^2

    def i2_from(self, c00, c11, c01):
        k = self.scale2
        return self.base.i2_from(k * c00, k * c11, k * c01)

    def i3_from(self, c00, c01, c02, c12, c22):
        k = self.scale2
        return self.base.i3_from(k * c00, k * c01, k * c02, k * c12, k * c22)

    def i4_from(self, c00, c11, c22, c33, c01, c02, c03, c12, c13, c23):
        k = self.scale2
        return k * self.base.i4_from(*(k * c for c in (c00, c11, c22, c33, c01, c02, c03, c12, c13, c23)))


@dataclass(frozen=True, eq=False)
class _Linear(GaussianIntegrals):
    """``g(z) = z``: every integral is a covariance entry."""

    def i2_from(self, c00, c11, c01):
        return np.array(c01, dtype=float)

    def i3_from(self, c00, c01, c02, c12, c22):
        return np.array(c12, dtype=float)

    def i4_from(self, c00, c11, c22, c33, c01, c02, c03, c12, c13, c23):
        return np.array(c23, dtype=float)


_ERF_SQRT2 = _ErfSqrt2(_registry_activation("erf_sqrt2"))

#: Closed-form Gaussian integrals, keyed by activation-registry name (``spectra.activations.ACTIVATIONS``).
CLOSED_FORMS: dict[str, GaussianIntegrals] = {
    "erf_sqrt2": _ERF_SQRT2,
    "erf": _Rescaled(_registry_activation("erf"), base=_ERF_SQRT2, scale2=2.0),  # erf(z) = erf(sqrt(2) z/sqrt(2))
    "linear": _Linear(_registry_activation("linear")),
}
#: Activations the ODEs support (registry names), the default first.
ODE_ACTIVATIONS: tuple[str, ...] = tuple(CLOSED_FORMS)


def gaussian_integrals(activation: str) -> GaussianIntegrals:
    r"""The closed-form Gaussian integrals of the registry activation called ``activation``.

    Parameters
    ----------
    activation : {"erf_sqrt2", "erf", "linear"}
        A name of the activation registry (``spectra.activations.ACTIVATIONS``): ``"erf_sqrt2"`` is
        :math:`\mathrm{erf}(z/\sqrt2)`, ``"erf"`` is :math:`\mathrm{erf}(z)`, ``"linear"`` is :math:`z`.

    Raises
    ------
    TypeError
        If ``activation`` is not a string.
    ValueError
        If ``activation`` is not a registry name, or is one without closed forms (``tanh``, ``relu``,
        ``sign``); the message lists the supported names with their formulas.

    Examples
    --------
    >>> import numpy as np
    >>> from dynamics.integrals import gaussian_integrals
    >>> gi = gaussian_integrals("erf_sqrt2")
    >>> gi.formula
    'erf(z/sqrt(2))'
    >>> round(float(gi.i2(np.eye(2), 0, 0)), 12)   # E[erf(z/sqrt 2)^2] = (2/pi) arcsin(1/2) = 1/3
    0.333333333333
    """
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a string, one of {activation_choices(ODE_ACTIVATIONS)}; got "
                        f"{type(activation).__name__}")
    act = _registry_activation(activation)  # unknown names: the registry's error, with every name
    try:
        return CLOSED_FORMS[act.name]
    except KeyError:
        raise ValueError(
            f"activation {activation!r} ({act.formula}) has no closed-form Gaussian integrals; the online-SGD "
            f"ODEs support {activation_choices(ODE_ACTIVATIONS)}"
        ) from None


def generalisation_error(Q, R, T, v, A, activation: str = "erf_sqrt2") -> np.ndarray:
    r"""Generalisation error :math:`\epsilon_g = \frac12 E(\hat y - y)^2` of a two-layer network (theory §4.5).

    Note the factor **1/2**: this is the half mean squared error of the online-SGD literature, not the
    plain MSE of the replica regression error.

    Parameters
    ----------
    Q : array_like, shape (..., K, K)
        Student-student overlaps :math:`Q_{kl} = E[\lambda_k \lambda_l]`.
    R : array_like, shape (..., K, M)
        Student-teacher overlaps :math:`R_{km} = E[\lambda_k \nu_m]`.
    T : array_like, shape (..., M, M)
        Teacher-teacher overlaps :math:`T_{mn} = E[\nu_m \nu_n]`.
    v : array_like, shape (..., K)
        Second-layer weights of the student.
    A : array_like, shape (..., M)
        Second-layer weights of the teacher.
    activation : {"erf_sqrt2", "erf", "linear"}
        Registry name: ``"erf_sqrt2"`` is :math:`\mathrm{erf}(z/\sqrt2)` (default), ``"erf"`` is
        :math:`\mathrm{erf}(z)`, ``"linear"`` is :math:`g(z) = z`.

    Returns
    -------
    numpy.ndarray
        :math:`\epsilon_g` with the leading batch shape of the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from dynamics import generalisation_error
    >>> Q = T = np.eye(2); R = np.zeros((2, 2)); v = A = np.ones(2)
    >>> float(generalisation_error(Q, R, T, v, A, "linear"))  # (v.Qv + A.TA)/2
    2.0
    """
    act = gaussian_integrals(activation)
    Q, R, T = (np.asarray(x, dtype=float) for x in (Q, R, T))
    v, A = np.asarray(v, dtype=float), np.asarray(A, dtype=float)
    K, M = Q.shape[-1], T.shape[-1]
    C = _joint_covariance(Q, R, T)
    u = np.concatenate([v, -A], axis=-1)
    idx = np.arange(K + M)
    I2 = act.i2(C, idx[:, None], idx[None, :])
    return 0.5 * np.einsum("...a,...ab,...b->...", u, I2, u)


def _joint_covariance(Q: np.ndarray, R: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``[[Q, R], [R.T, T]]`` with batch dimensions in front."""
    top = np.concatenate([Q, R], axis=-1)
    bottom = np.concatenate([np.swapaxes(R, -1, -2), T], axis=-1)
    return np.concatenate([top, bottom], axis=-2)
