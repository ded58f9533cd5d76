r"""Covariances and spectra of random generators without sampling (theory §3.3-3.4).

* :func:`kappas`: the Hermite coefficients :math:`\kappa_0, \kappa_1, \kappa_*` of an activation,
  by high-order quadrature;
* :func:`single_layer_covariances`: the exact :math:`(\Omega, \Phi)` of :math:`x = \sigma(Wc)` for
  ``sign`` (arcsine law) and ``erf`` (:math:`\mathrm{erf}(z)`, the registry's ``"erf"``);
* :func:`random_features_covariances`: the Gaussian-equivalent (linearised) covariances of random
  features :math:`\sigma(Fc)` for any activation, with per-row coefficients;
* :func:`deep_sign_covariances`: the linearised recursion for deep random sign networks (an
  approximation for ``L >= 2``; Monte Carlo is the reference there).

Each ``*_covariances`` function has a ``*_spectrum`` partner returning a :class:`spectra.Spectrum` for a
latent teacher (``Psi = I_D``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from spectra.activations import ACTIVATIONS, Activation, get_activation
from spectra.spectrum import Spectrum

__all__ = [
    "Kappas",
    "kappas",
    "gaussian_expectation",
    "single_layer_covariances",
    "single_layer_spectrum",
    "random_features_covariances",
    "random_features_spectrum",
    "deep_sign_covariances",
    "deep_sign_spectrum",
]

#: Order of the Gauss-Hermite rule for smooth activations.
HERMITE_ORDER = 160
#: Gauss-Legendre order per panel on each half-line, for activations with a kink or jump at 0.
LEGENDRE_ORDER = 40
#: Panel edges of each half-line; the Gaussian weight beyond the last edge is below 1e-55.
HALF_LINE_PANELS = (0.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0)

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


@lru_cache(maxsize=4)
def _rule(smooth: bool) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of a rule for E[f(z)], z ~ N(0, 1) (weights sum to 1)."""
    if smooth:
        x, w = hermegauss(HERMITE_ORDER)
        return x, w / np.sqrt(2 * np.pi)
    # Piecewise-smooth integrands with a break at 0: composite Gauss-Legendre on each half-line
    # separately, the Gaussian density folded into the weights. Panels keep every node accurate (a single
    # high-order rule loses ~1e-14 to its own nodes); exact to double precision for analytic pieces.
    u, v = np.polynomial.legendre.leggauss(LEGENDRE_ORDER)
    edges = np.asarray(HALF_LINE_PANELS)
    a, b = edges[:-1, None], edges[1:, None]
    half = (a + 0.5 * (b - a) * (u + 1)).ravel()
    wh = (0.5 * (b - a) * v).ravel() * np.exp(-0.5 * half**2) / np.sqrt(2 * np.pi)
    return np.concatenate([-half[::-1], half]), np.concatenate([wh[::-1], wh])


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], *, smooth: bool = False) -> float:
    r""":math:`E[f(z)]` for :math:`z \sim N(0, 1)` by a fixed high-order rule.

    ``smooth=True`` uses a 160-point Gauss-Hermite rule (for functions analytic on the real line);
    ``smooth=False`` integrates each half-line with a composite Gauss-Legendre rule (6 panels of 40
    points on [0, 16]), exact for functions that are analytic on each side of 0 (``sign``, ``relu``, ...).

    Examples
    --------
    >>> from spectra.analytic import gaussian_expectation
    >>> round(gaussian_expectation(lambda z: z**4, smooth=True), 12)
    3.0
    """
    x, w = _rule(bool(smooth))
    return float(np.asarray(f(x), dtype=float) @ w)


@dataclass(frozen=True)
class Kappas:
    r"""Hermite coefficients of an activation under :math:`z \sim N(0,1)` (theory §3.3).

    ``kappa0 = E[sigma(z)]``, ``kappa1 = E[z sigma(z)]``,
    ``kappa_star = sqrt(E[sigma(z)^2] - kappa0^2 - kappa1^2)``.
    """

    activation: str
    kappa0: float
    kappa1: float
    kappa_star: float

    def to_dict(self) -> dict:
        """Plain dictionary of the fields."""
        return asdict(self)


def _moments(act: Callable, smooth: bool, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E[s(r z)], E[z s(r z)], E[s(r z)^2] for each r in ``scale`` (vectorised over rows and nodes)."""
    x, w = _rule(smooth)
    vals = np.asarray(act(np.multiply.outer(scale, x)), dtype=float)
    return vals @ w, vals @ (w * x), (vals * vals) @ w


def kappas(activation: str | Callable[[np.ndarray], np.ndarray], *, smooth: bool | None = None) -> Kappas:
    r"""The coefficients :math:`\kappa_0, \kappa_1, \kappa_*` of an activation by quadrature.

    Parameters
    ----------
    activation : str or callable
        A name (``"sign"``, ``"erf"`` (plain :math:`\mathrm{erf}(z)`), ``"erf_sqrt2"``
        (:math:`\mathrm{erf}(z/\sqrt2)`), ``"tanh"``, ``"relu"``, ``"linear"``) or a vectorised function.
    smooth : bool, optional
        For a callable: True if it is analytic on the real line (Gauss-Hermite), False (default for
        callables) if it may have a kink or jump at 0 (each half-line integrated separately). Ignored for
        names, whose smoothness is known.

    Returns
    -------
    Kappas

    Examples
    --------
    >>> from spectra.analytic import kappas
    >>> k = kappas("sign")
    >>> round(k.kappa1**2, 12), round(k.kappa_star**2, 12)   # 2/pi and 1 - 2/pi
    (0.636619772368, 0.363380227632)
    """
    if isinstance(activation, (str, Activation)):
        act = get_activation(activation)
        func, is_smooth, name = act.func, act.smooth, act.name
    elif callable(activation):
        func, is_smooth = activation, bool(smooth) if smooth is not None else False
        name = getattr(activation, "__name__", "callable")
    else:
        raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}")
    m0, m1, m2 = _moments(func, is_smooth, np.ones(1))
    k0, k1 = float(m0[0]), float(m1[0])
    kstar2 = float(m2[0]) - k0**2 - k1**2
    if abs(kstar2) <= 1e-14 * float(m2[0]):
        kstar2 = 0.0  # round-off of the cancellation (e.g. a linear activation), not a real residual
    if not np.isfinite(kstar2) or kstar2 < -1e-12 * max(float(m2[0]), 1e-300):
        raise ValueError(f"activation {name!r} gave E[sigma^2] - kappa0^2 - kappa1^2 = {kstar2:.3g} < 0; "
                         f"is it finite and square-integrable under N(0, 1)?")
    return Kappas(name, k0, k1, float(np.sqrt(max(kstar2, 0.0))))


# ------------------------------------------------------------------------------------------------ helpers
def _weights(name: str, weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array of shape (N, D), got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} contains NaN or inf")
    return w


def _row_norms(name: str, w: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(w, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(f"{name} row {zero[0]} is zero: its unit's output is constant, and the "
                         f"correlation-coefficient forms need non-zero rows")
    return norms


def _spectrum(omega: np.ndarray, phi: np.ndarray, theta) -> Spectrum:
    D = phi.shape[1]
    if theta is None:
        return Spectrum.from_covariances_averaged(omega=omega, phi=phi, psi=np.eye(D))
    return Spectrum.from_covariances(omega=omega, phi=phi, psi=np.eye(D), theta=theta)


# ------------------------------------------------------------------------------------- exact single layer
def _sign_exact(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = _row_norms("weights", w)
    u = w / norms[:, None]
    corr = np.clip(u @ u.T, -1.0, 1.0)
    omega = (2 / np.pi) * np.arcsin(corr)
    np.fill_diagonal(omega, 1.0)
    return omega, _SQRT_2_OVER_PI * u


def _erf_exact(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = w @ w.T
    d = 1 + 2 * np.diag(c)
    arg = np.clip(2 * c / np.sqrt(np.outer(d, d)), -1.0, 1.0)
    omega = (2 / np.pi) * np.arcsin(arg)
    phi = (2 / np.sqrt(np.pi)) * w / np.sqrt(d)[:, None]
    return omega, phi


_EXACT = {"sign": _sign_exact, "erf": _erf_exact}


def single_layer_covariances(weights, activation: str = "sign") -> tuple[np.ndarray, np.ndarray]:
    r"""Exact covariances of :math:`x = \sigma(Wc)`, :math:`c \sim N(0, I_D)` (theory §3.4).

    For ``sign``: :math:`\Omega_{ij} = (2/\pi)\arcsin(C_{ij}/\sqrt{C_{ii}C_{jj}})` with :math:`C = WW^\top`
    (the arcsine law) and :math:`\Phi = \sqrt{2/\pi}\,\mathrm{diag}(1/\|W_i\|) W`. For ``erf``
    (:math:`\sigma = \mathrm{erf}`):
    :math:`\Omega_{ij} = (2/\pi)\arcsin(2C_{ij}/\sqrt{(1+2C_{ii})(1+2C_{jj})})`
    and :math:`\Phi_i = (2/\sqrt\pi) W_i/\sqrt{1+2C_{ii}}`. Both activations are odd, so ``x`` is already
    centred and these are the centred covariances.

    Parameters
    ----------
    weights : array, shape (N, D)
        The weight matrix (e.g. ``SingleLayer.weights``); any scaling, rows non-zero.
    activation : {"sign", "erf"}

    Returns
    -------
    omega : ndarray, shape (N, N)
        :math:`E[x x^\top]`.
    phi : ndarray, shape (N, D)
        :math:`E[x c^\top]` (rows are output units).

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.analytic import single_layer_covariances
    >>> omega, phi = single_layer_covariances(np.array([[1.0, 0.0], [1.0, 1.0]]), "sign")
    >>> omega.round(6)   # (2/pi) arcsin(1/sqrt 2) = 1/2
    array([[1. , 0.5],
           [0.5, 1. ]])
    """
    if activation not in _EXACT:
        raise ValueError(f"exact covariances exist for activation 'sign' or 'erf', got {activation!r}; use "
                         f"random_features_covariances (Gaussian-equivalent) or estimate_covariances "
                         f"(Monte Carlo) for other activations")
    return _EXACT[activation](_weights("weights", weights))


def single_layer_spectrum(weights, activation: str = "sign", theta=None) -> Spectrum:
    """:class:`~spectra.Spectrum` of the exact single-layer covariances with a latent teacher.

    ``theta`` (shape ``(D,)``) gives a fixed teacher; ``None`` averages over ``theta ~ N(0, I_D)``.

    Examples
    --------
    >>> from spectra.generators import SingleLayer
    >>> from spectra.analytic import single_layer_spectrum
    >>> spec = single_layer_spectrum(SingleLayer(20, 40, seed=0).weights, "sign")
    >>> spec.p, spec.gamma
    (40, 0.5)
    """
    omega, phi = single_layer_covariances(weights, activation)
    return _spectrum(omega, phi, theta)


# ------------------------------------------------------------------------------ Gaussian-equivalent forms
def random_features_covariances(weights, activation: str | Callable = "sign", *,
                                smooth: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Gaussian-equivalent covariances of random features :math:`v = \sigma(Fc)` (theory §3.3).

    With per-row coefficients for :math:`z \sim N(0,1)` and :math:`r_i = \|f_i\|`,
    :math:`a_i = E[z\,\sigma(r_i z)]/r_i` (Stein: :math:`E[\sigma'(r_i z)]`) and
    :math:`\kappa_{*,i}^2 = \mathrm{Var}\,\sigma(r_i z) - (r_i a_i)^2`,

    .. math:: \Omega = \mathrm{diag}(a) F F^\top \mathrm{diag}(a) + \mathrm{diag}(\kappa_*^2), \qquad
              \Phi = \mathrm{diag}(a) F .

    For unit rows this is :math:`\kappa_1^2 FF^\top + \kappa_*^2 I` and :math:`\Phi = \kappa_1 F`, the
    centred form of §3.3 (the :math:`\kappa_0^2 11^\top` term is removed by centring). ``Phi`` and the
    diagonal of ``Omega`` are exact for any ``F``; the off-diagonal of ``Omega`` is the linearisation
    that the Gaussian equivalence theorem controls.

    Parameters
    ----------
    weights : array, shape (p, D)
    activation : str or callable
        As in :func:`kappas`.
    smooth : bool, optional
        Smoothness of a callable activation (see :func:`kappas`).

    Returns
    -------
    omega : ndarray, shape (p, p)
    phi : ndarray, shape (p, D)

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.analytic import random_features_covariances
    >>> omega, phi = random_features_covariances(np.eye(2), "sign")
    >>> omega.round(6)   # kappa1^2 + kappa_*^2 = 1 on the diagonal, 0 off it
    array([[1., 0.],
           [0., 1.]])
    """
    w = _weights("weights", weights)
    norms = _row_norms("weights", w)
    if isinstance(activation, (str, Activation)):
        act = get_activation(activation)
        func, is_smooth = act.func, act.smooth
    elif callable(activation):
        func, is_smooth = activation, bool(smooth) if smooth is not None else False
    else:
        raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}")
    m0, m1, m2 = _moments(func, is_smooth, norms)
    a = m1 / norms
    kstar2 = np.maximum(m2 - m0**2 - m1**2, 0.0)
    phi = a[:, None] * w
    omega = phi @ phi.T
    omega[np.diag_indices_from(omega)] += kstar2
    return omega, phi


def random_features_spectrum(weights, activation: str | Callable = "sign", theta=None, *,
                             smooth: bool | None = None) -> Spectrum:
    """:class:`~spectra.Spectrum` of :func:`random_features_covariances` with a latent teacher.

    Examples
    --------
    >>> from spectra.generators import SingleLayer
    >>> from spectra.analytic import random_features_spectrum
    >>> spec = random_features_spectrum(SingleLayer(30, 60, seed=0).weights, "relu")
    >>> spec.p
    60
    """
    omega, phi = random_features_covariances(weights, activation, smooth=smooth)
    return _spectrum(omega, phi, theta)


# ---------------------------------------------------------------------------------------- deep sign nets
def deep_sign_covariances(weights: Sequence) -> tuple[np.ndarray, np.ndarray]:
    r"""Linearised covariances of a deep random sign network (theory §3.4, the reference code's recursion).

    With :math:`b = \sqrt{2/\pi}`, :math:`\Sigma_0 = \Phi_0 = I_D`:
    :math:`\tilde\Omega_l = b^2 W_l \Sigma_{l-1} W_l^\top`, :math:`\Sigma_l = \tilde\Omega_l + (1-b^2) I`,
    :math:`\Phi_l = b W_l \Phi_{l-1}`; the diagonal of the final :math:`\tilde\Omega_L` is set to 1.

    This is a first-order approximation: for one layer with unit rows it coincides with the
    Gaussian-equivalent form of §3.3, for ``L >= 2`` a Monte Carlo estimate is the reference.

    Parameters
    ----------
    weights : sequence of arrays
        ``W_1, ..., W_L`` with shapes ``(w_l, w_{l-1})`` (e.g. ``DeepRandom.weights``).

    Returns
    -------
    omega : ndarray, shape (N, N)
    phi : ndarray, shape (N, D)

    Examples
    --------
    >>> from spectra.generators import DeepRandom
    >>> from spectra.analytic import deep_sign_covariances
    >>> omega, phi = deep_sign_covariances(DeepRandom([10, 10, 20], seed=0).weights)
    >>> omega.shape, phi.shape
    ((20, 20), (20, 10))
    """
    if isinstance(weights, np.ndarray) and weights.ndim == 2:
        weights = [weights]
    if not isinstance(weights, Sequence) or len(weights) == 0:
        raise TypeError("weights must be a non-empty sequence of 2-d arrays W_1, ..., W_L")
    ws = [_weights(f"weights[{i}]", w) for i, w in enumerate(weights)]
    for i in range(1, len(ws)):
        if ws[i].shape[1] != ws[i - 1].shape[0]:
            raise ValueError(f"weights[{i}] has shape {ws[i].shape} but weights[{i - 1}] has "
                             f"{ws[i - 1].shape[0]} outputs: layer widths do not chain")
    b2 = 2.0 / np.pi
    b = np.sqrt(b2)
    D = ws[0].shape[1]
    sigma, phi = np.eye(D), np.eye(D)
    omega = sigma
    for w in ws:
        omega = b2 * (w @ sigma @ w.T)
        sigma = omega + (1 - b2) * np.eye(w.shape[0])
        phi = b * (w @ phi)
    omega = omega.copy()
    np.fill_diagonal(omega, 1.0)
    return omega, phi


def deep_sign_spectrum(weights: Sequence, theta=None) -> Spectrum:
    """:class:`~spectra.Spectrum` of :func:`deep_sign_covariances` with a latent teacher.

    The recursion's ``omega`` is positive semi-definite only when the last layer's rows have norms close to 1
    (wide layers); for narrow ones (e.g. widths ``[10, 10, 20]``) most draws give an indefinite ``omega``,
    which :class:`~spectra.Spectrum` refuses.

    Examples
    --------
    >>> from spectra.generators import DeepRandom
    >>> from spectra.analytic import deep_sign_spectrum
    >>> deep_sign_spectrum(DeepRandom([10, 200, 20], seed=0).weights).p
    20
    """
    omega, phi = deep_sign_covariances(weights)
    return _spectrum(omega, phi, theta)


#: Activation names :func:`kappas` accepts.
KAPPA_ACTIVATIONS = tuple(ACTIVATIONS)
