r"""Finite-size simulations of ERM on generator data, measured in the theory's conventions (theory §1.4, §2.4).

For each ``alpha`` and seed: draw ``n = round(alpha p)`` fresh latents ``c ~ N(0, I_D)``, form
``x = G(c)``, the features ``v = features(x) - mean_v`` (centred with the **same** means the theory's
covariances were estimated with, theory §1.1), the teacher field ``nu = theta . c/sqrt(D)`` and labels
``y ~ P0(.|nu)`` from the channel with its noise. Fit

.. math:: \hat w = \arg\min_w \sum_\mu \ell(y^\mu, w\cdot v^\mu/\sqrt p) + \frac\lambda2\|w\|^2

(:mod:`validation.fit`) and measure, on the training set and on ``n_test`` fresh samples,

* ``train_loss`` = :math:`\frac1n\sum_\mu \ell(y^\mu, h^\mu)` (penalty excluded);
* ``train_error``: 0/1 error against the training labels (classification) or MSE ``(1/n) sum (y - h)^2``
  (regression; no 1/2);
* ``test_error``: 0/1 error against ``sign(nu)`` or MSE ``(nu - h)^2`` against the clean teacher field;
* ``test_error_noisy``: the same against fresh noisy labels;
* ``q`` = :math:`\hat w^\top\Omega\hat w/p` and ``m`` = :math:`\hat w^\top\Phi\theta_0/\sqrt{pk}` with the
  theory's own ``Omega`` and ``Phi``.
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass, fields

import numpy as np
import sympy as sp
from tqdm.auto import tqdm

from gaussequiv import seeding
from gaussequiv.seeding import SeedLike
from validation.fit import Fit, design, fit, ridge_path

__all__ = ["Covariances", "SimulationResult", "SimulationWarning", "simulate", "sample_labels", "QUANTITIES"]

#: The measured quantities, named as the fields of :class:`replica.Solution`.
QUANTITIES = ("test_error", "test_error_noisy", "train_loss", "train_error", "q", "m")



class SimulationWarning(UserWarning):
    """An optimiser did not meet its convergence criterion; the point is flagged in the result."""


@dataclass(frozen=True, eq=False)
class Covariances:
    r"""The covariances and feature means a theory prediction was computed from.

    :class:`spectra.CovarianceEstimate` has the same attributes and can be passed wherever this is
    expected. Use this class for exact covariances (e.g. :func:`spectra.analytic.single_layer_covariances`).

    Attributes
    ----------
    omega : ndarray, shape (p, p)
        :math:`E[v v^\top]` of the centred features.
    phi : ndarray, shape (p, k)
        :math:`E[v c^\top]` (rows are student features).
    mean_v : ndarray, shape (p,)
        The feature means subtracted from every sample (zeros for odd features of odd generators).

    Examples
    --------
    >>> import numpy as np
    >>> cov = Covariances(omega=np.eye(2), phi=np.eye(2), mean_v=np.zeros(2))
    >>> cov.omega.shape
    (2, 2)
    """

    omega: np.ndarray
    phi: np.ndarray
    mean_v: np.ndarray

    def __post_init__(self):
        omega = np.array(self.omega, dtype=float)
        if omega.ndim != 2 or omega.shape[0] != omega.shape[1]:
            raise ValueError(f"omega must be a square (p, p) array, got shape {omega.shape}")
        p = omega.shape[0]
        phi = np.array(self.phi, dtype=float)
        if phi.ndim != 2 or phi.shape[0] != p:
            raise ValueError(f"phi must have shape (p, k) = ({p}, k) (rows are student features), got {phi.shape}")
        mean = np.array(self.mean_v, dtype=float)
        if mean.shape != (p,):
            raise ValueError(f"mean_v must have shape ({p},), got {mean.shape}")
        for name, arr in (("omega", omega), ("phi", phi), ("mean_v", mean)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or inf")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)


# ------------------------------------------------------------------------------------------------- labels
def _sign(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1.0, -1.0)


def _labels_sign_family(channel, nu, rng):
    z = nu + np.sqrt(channel.noise) * rng.standard_normal(nu.shape) if channel.noise > 0 else nu
    y = _sign(z)
    if channel.flip > 0:
        y = np.where(rng.random(nu.shape) < channel.flip, -y, y)
    return y


def _labels_linear(channel, nu, rng):
    return nu + np.sqrt(channel.noise) * rng.standard_normal(nu.shape) if channel.noise > 0 else nu.copy()


def _labels_likelihood(channel, nu, rng):
    ysym = next(s for s in channel.expr.free_symbols if s.name == "y")
    zsym = next(s for s in channel.expr.free_symbols if s.name == "z")
    f = sp.lambdify((ysym, zsym), channel.expr, modules=["scipy", "numpy"])
    labels = np.asarray(channel.labels, dtype=float)
    probs = np.stack([np.broadcast_to(f(v, nu), nu.shape) for v in labels], axis=1)
    cum = np.cumsum(probs, axis=1)
    idx = (rng.random(nu.shape)[:, None] > cum[:, :-1]).sum(axis=1)
    return labels[idx]


def _label_sampler(channel):
    """The sampler of a channel, chosen by the attributes that define its law."""
    if hasattr(channel, "flip") and hasattr(channel, "noise"):
        return _labels_sign_family
    if hasattr(channel, "noise") and not channel.is_classification:
        return _labels_linear
    if hasattr(channel, "expr") and getattr(channel, "labels", None):
        return _labels_likelihood
    raise TypeError(f"channel must be a replica.Channel (linear, sign, probit or from_likelihood), got {channel!r}")


def sample_labels(channel, nu, seed: SeedLike = 0) -> np.ndarray:
    """Labels ``y ~ P0(. | nu)`` of a :class:`replica.Channel`, noise included: :meth:`replica.Channel.sample`.

    The channel draws its own labels, so every channel, built-in or ``from_likelihood``, is sampled from the
    law its theory uses. ``seed`` (an int >= 0, a ``SeedSequence`` or a ``Generator``) gives the stream of kind
    ``"validation.labels"`` (:func:`gaussequiv.seeding.rng`).

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Channel
    >>> sample_labels(Channel.sign(), np.array([-0.5, 2.0]), seed=0)
    array([-1.,  1.])
    """
    from replica import Channel

    if not isinstance(channel, Channel):
        raise TypeError(f"channel must be a replica.Channel (e.g. Channel.sign()), got {type(channel).__name__}")
    return channel.sample(nu, seeding.rng(seed, "validation.labels"))


# ------------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Per-seed measurements of ERM on generator samples, with means and standard errors over seeds.

    Arrays of measurements have shape ``(points, seeds)``: one point per alpha (an alpha sweep) or per lam (a
    lambda path, all points of a seed fitted on the same training set). :meth:`mean` and :meth:`se` are NaN at a
    point where any seed's fit did not converge (``status[i] == "not_converged"``): such a point is
    flagged, never reported as a number.

    Attributes
    ----------
    alphas : ndarray
        Nominal ``alpha = n/p`` of each point; ``n = round(alpha p)`` samples were used (see ``n``).
    n : ndarray of int
    lam : ndarray
        Penalty of each point (constant along an alpha sweep; the swept variable of a lambda path).
    p, k : int
        Features and latent dimension (``gamma = k/p``).
    n_test : int
    seeds : int
    loss, channel : str
        Names, as in :class:`replica.Curve`.
    teacher : {"fixed", "averaged"}
        ``"fixed"``: one ``theta`` for all seeds; ``"averaged"``: ``theta ~ N(0, I_k)`` redrawn per seed.
    rho : ndarray, shape (seeds,)
        ``|theta|^2/k`` of each seed's teacher.
    test_error, test_error_noisy, train_loss, train_error, q, m : ndarray
        Per-seed measurements (see the module docstring for which quantity each is).
    certificate : ndarray
        The fit's convergence certificate (:class:`validation.fit.Fit`).
    converged : ndarray of bool
    generator, features : str
    classification : bool
        Whether the errors are 0/1 errors (labels +-1) rather than mean squared errors.
    """

    alphas: np.ndarray
    n: np.ndarray
    lam: np.ndarray
    p: int
    k: int
    n_test: int
    seeds: int
    loss: str
    channel: str
    teacher: str
    rho: np.ndarray
    test_error: np.ndarray
    test_error_noisy: np.ndarray
    train_loss: np.ndarray
    train_error: np.ndarray
    q: np.ndarray
    m: np.ndarray
    certificate: np.ndarray
    converged: np.ndarray
    generator: str = ""
    features: str = ""
    classification: bool = False

    @property
    def status(self) -> np.ndarray:
        """``"converged"`` or ``"not_converged"`` per alpha (all seeds must converge)."""
        return np.where(self.converged.all(axis=1), "converged", "not_converged")

    def _values(self, quantity: str) -> np.ndarray:
        if quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {quantity!r}; choose from {QUANTITIES}")
        return getattr(self, quantity)

    def mean(self, quantity: str) -> np.ndarray:
        """Mean over seeds per alpha (NaN where a fit did not converge)."""
        vals = self._values(quantity)
        return np.where(self.converged.all(axis=1), vals.mean(axis=1), np.nan)

    def se(self, quantity: str) -> np.ndarray:
        """Standard error of the mean over seeds (``std(ddof=1)/sqrt(seeds)``; NaN with one seed)."""
        vals = self._values(quantity)
        if self.seeds < 2:
            return np.full(len(self.alphas), np.nan)
        se = vals.std(axis=1, ddof=1) / np.sqrt(self.seeds)
        return np.where(self.converged.all(axis=1), se, np.nan)

    def to_dict(self) -> dict:
        """All fields as a plain dictionary (arrays as numpy arrays)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_csv(self, path: str | os.PathLike, per_seed: bool = False) -> None:
        """One row per alpha (means and standard errors), or per (alpha, seed) with ``per_seed=True``."""
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            if per_seed:
                w.writerow(["alpha", "n", "seed", *QUANTITIES, "certificate", "converged", "lam", "loss", "channel"])
                for i, a in enumerate(self.alphas):
                    for s in range(self.seeds):
                        w.writerow([repr(float(a)), int(self.n[i]), s,
                                    *(repr(float(getattr(self, q)[i, s])) for q in QUANTITIES),
                                    repr(float(self.certificate[i, s])), bool(self.converged[i, s]),
                                    repr(float(self.lam[i])), self.loss, self.channel])
                return
            cols = [c for q in QUANTITIES for c in (q, f"{q}_se")]
            w.writerow(["alpha", "n", *cols, "status", "seeds", "lam", "loss", "channel"])
            stats = {q: (self.mean(q), self.se(q)) for q in QUANTITIES}
            for i, a in enumerate(self.alphas):
                vals = [repr(float(v[i])) for q in QUANTITIES for v in stats[q]]
                w.writerow([repr(float(a)), int(self.n[i]), *vals, self.status[i], self.seeds, repr(float(self.lam[i])),
                            self.loss, self.channel])

    def save(self, path: str | os.PathLike) -> None:
        """Write all fields to an ``.npz`` file (no pickles); read back with :meth:`load`."""
        arrays = {}
        for f in fields(self):
            v = getattr(self, f.name)
            arrays[f.name] = np.str_(v) if isinstance(v, str) else np.asarray(v)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SimulationResult:
        """Read a result written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            missing = {fl.name for fl in fields(cls)} - set(f.files)
            if missing:
                raise ValueError(f"{path} is not a saved SimulationResult: missing {sorted(missing)}")
            kw = {}
            for fl in fields(cls):
                v = f[fl.name]
                if v.dtype.kind == "U":
                    kw[fl.name] = str(v)
                elif v.ndim == 0:
                    kw[fl.name] = v.item()
                else:
                    kw[fl.name] = np.array(v)
            return cls(**kw)


# ---------------------------------------------------------------------------------------------- sampling
def _draw(generator, features, mean_v, teacher_theta, n, rng, batch_size):
    """Centred features (float64) and teacher fields of ``n`` fresh samples."""
    D = generator.latent_dim
    vs, nus = [], []
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        c = rng.standard_normal((size, D), dtype=np.float32)
        x = np.asarray(generator(c))
        v = x if features is None else np.asarray(features(x))
        if not np.all(np.isfinite(v)):
            raise ValueError("generator or features returned NaN or inf")
        vs.append(v.astype(np.float64) - mean_v)
        nus.append(c.astype(np.float64) @ teacher_theta / np.sqrt(D))
    return np.concatenate(vs), np.concatenate(nus)


def _fits(loss, X, y, lams, w0, tol):
    """Fits at each lam on one training set: one eigendecomposition for the square loss, otherwise warm
    starts along the path."""
    if getattr(loss, "is_square", False) and len(lams) > 1:
        W, method = ridge_path(X, y, lams)
        return [Fit(w, True, 0.0, 0, method) for w in W]
    out = []
    for lam in lams:
        res = fit(loss, X, y, float(lam), w0=w0, tol=tol)
        w0 = res.w
        out.append(res)
    return out


def _check_alphas(alphas) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(alphas, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("alphas must be a non-empty 1-d sequence of sample ratios n/p")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"alphas must all be finite and > 0 (alpha = n/p), got {arr.tolist()}")
    return arr


def _int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def simulate(generator, features, teacher, channel, loss, lam, alphas, *, covariances, p: int | None = None,
             n_test: int = 10_000, seeds: int = 5, seed: SeedLike = 0, tol: float = 1e-6,
             batch_size: int = 2000, progress: bool | None = None) -> SimulationResult:
    r"""Train on fresh generator samples and measure what the replica theory predicts.

    The estimator minimises :math:`\sum_\mu \ell(y^\mu, w\cdot v^\mu/\sqrt p) + (\lambda/2)\|w\|^2` (the
    objective of :func:`replica.solve`); see the module docstring for each measured quantity.

    Parameters
    ----------
    generator : spectra.generators.Generator
        Maps latents ``(n, D)`` to outputs ``(n, N)``.
    features : spectra.features.FeatureMap or None
        Maps ``(n, N)`` to ``(n, p)``; None is the identity (``v = x``). Use the same object whose
        covariances the theory used.
    teacher : spectra.teachers.LinearTeacher or "averaged"
        A fixed teacher ``nu = theta . c/sqrt(D)`` (compare with ``Spectrum.from_estimate(est, theta)``), or
        ``"averaged"``: a new ``theta ~ N(0, I_D)`` per seed (compare with the teacher-averaged spectrum).
    channel : replica.Channel
        Labels ``y ~ P0(.|nu)``, noise included.
    loss : replica.Loss
        Square (closed form), hinge (dual) or any smooth convex loss (L-BFGS).
    lam : float or sequence of float
        Penalty (> 0; ``0`` only for the square loss: minimum-norm least squares). A sequence with a scalar
        ``alphas`` simulates a lambda path (compare with :func:`replica.lambda_path`): each seed draws one
        training set and fits every ``lam`` on it, the square loss from one eigendecomposition
        (:func:`validation.fit.ridge_path`), other losses warm-started along the path.
    alphas : float or sequence of float
        ``n/p > 0``; ``n = round(alpha p)`` (at least 1). A sequence with a scalar ``lam`` is an alpha sweep
        (compare with :func:`replica.learning_curve`), warm-started along alpha within each seed.
    covariances : spectra.CovarianceEstimate or Covariances
        The ``omega``, ``phi`` and ``mean_v`` the theory used: features are centred with ``mean_v`` and
        ``q``, ``m`` are measured with ``omega`` and ``phi``.
    p : int, optional
        Expected number of features (checked against the feature map).
    n_test : int
        Fresh test samples per seed (shared by the alphas of that seed, never training points).
    seeds : int
        Independent repetitions (>= 2 for standard errors).
    seed : int, numpy.random.Generator or SeedSequence
        Root seed; repetition ``s`` uses child ``s`` of ``SeedSequence(seed).spawn(seeds)``, which spawns
        the teacher, the test set and one training set per alpha.
    tol : float
        Convergence target of iterative fits (:func:`validation.fit.fit`).
    batch_size : int
        Samples per generator call.
    progress : bool or None
        tqdm bar over (alpha, seed); None shows it only for runs longer than a few seconds.

    Returns
    -------
    SimulationResult

    Warns
    -----
    SimulationWarning
        When a fit does not meet its criterion; the point's ``status`` is ``"not_converged"``.

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Loss, Channel
    >>> from spectra.generators import SingleLayer
    >>> from spectra.teachers import LinearTeacher
    >>> from spectra.analytic import single_layer_covariances
    >>> gen = SingleLayer(20, 40, "sign", seed=0)
    >>> omega, phi = single_layer_covariances(gen.weights, "sign")
    >>> cov = Covariances(omega=omega, phi=phi, mean_v=np.zeros(40))
    >>> sim = simulate(gen, None, LinearTeacher.random(20, seed=1), Channel.linear(0.1), Loss.square(),
    ...                0.1, [1.0, 2.0], covariances=cov, n_test=500, seeds=3, seed=2)
    >>> sim.test_error.shape, sim.status.tolist()
    ((2, 3), ['converged', 'converged'])
    """
    if not callable(generator) or not hasattr(generator, "latent_dim") or not hasattr(generator, "output_dim"):
        raise TypeError("generator must be callable with latent_dim and output_dim (see spectra.generators)")
    D, N = int(generator.latent_dim), int(generator.output_dim)
    if features is None:
        p_feat = N
    else:
        if not callable(features) or not hasattr(features, "input_dim") or not hasattr(features, "output_dim"):
            raise TypeError("features must be callable with input_dim and output_dim (see spectra.features), "
                            "or None for the identity")
        if int(features.input_dim) != N:
            raise ValueError(f"features take input_dim = {features.input_dim} inputs but the generator has "
                             f"output_dim = {N}: build the feature map with input_dim={N}")
        p_feat = int(features.output_dim)
    if p is not None and _int("p", p, 1) != p_feat:
        raise ValueError(f"p = {p} but the features have output_dim = {p_feat}")
    p = p_feat
    for attr in ("omega", "phi", "mean_v"):
        if not hasattr(covariances, attr):
            raise TypeError(f"covariances must be a spectra.CovarianceEstimate or validation.Covariances (with "
                            f"omega, phi and mean_v), got {type(covariances).__name__}")
    omega = np.asarray(covariances.omega, dtype=float)
    phi = np.asarray(covariances.phi, dtype=float)
    mean_v = np.asarray(covariances.mean_v, dtype=float)
    if omega.shape != (p, p) or mean_v.shape != (p,):
        raise ValueError(f"covariances are for {omega.shape[0]} features but the features have p = {p}: "
                         f"use the covariances of this generator and feature map")
    if phi.shape != (p, D):
        raise ValueError(f"covariances.phi has shape {phi.shape} but (p, D) = ({p}, {D}) is needed: phi must be "
                         f"E[v c^T] for this generator's latent (a latent teacher)")
    if isinstance(teacher, str):
        if teacher != "averaged":
            raise ValueError(f"teacher must be a LinearTeacher or 'averaged', got {teacher!r}")
        fixed_theta = None
    else:
        if not hasattr(teacher, "theta"):
            raise TypeError(f"teacher must be a spectra.teachers.LinearTeacher or 'averaged', got "
                            f"{type(teacher).__name__}")
        fixed_theta = np.asarray(teacher.theta, dtype=float)
        if fixed_theta.shape != (D,):
            raise ValueError(f"teacher has {fixed_theta.size} weights but the generator's latent dimension is "
                             f"D = {D}: use LinearTeacher.random({D})")
    sampler = _label_sampler(channel)
    if not hasattr(loss, "derivative") or not hasattr(loss, "expr"):
        raise TypeError(f"loss must be a replica.Loss, got {type(loss).__name__}")
    lam_path = np.ndim(lam) > 0
    if lam_path and np.ndim(alphas) > 0 and np.size(alphas) != 1:
        raise ValueError("give either a sequence of alphas with a scalar lam (an alpha sweep) or a sequence of lam "
                         "with a scalar alpha (a lambda path), not both")
    lams = np.atleast_1d(np.asarray(lam, dtype=float))
    if lams.ndim != 1 or lams.size == 0:
        raise ValueError("lam must be a float or a non-empty 1-d sequence")
    if not np.all(np.isfinite(lams)) or np.any(lams < 0) or (np.any(lams == 0) and not getattr(loss, "is_square",
                                                                                                 False)):
        raise ValueError(f"lam must be finite and > 0 (lam = 0 only for the square loss), got {lams.tolist()}")
    alphas = _check_alphas(alphas)
    if lam_path:
        alphas = np.full(lams.size, alphas[0])
    else:
        lams = np.full(alphas.size, lams[0])
    n_test = _int("n_test", n_test, 1)
    seeds = _int("seeds", seeds, 1)
    batch_size = _int("batch_size", batch_size, 1)
    ns = np.maximum(1, np.rint(alphas * p)).astype(int)
    classification = bool(channel.is_classification)

    # points sharing an alpha share a training set (a lambda path); groups in order of first appearance
    firsts = sorted(np.unique(alphas, return_index=True)[1])
    groups = [np.flatnonzero(alphas == alphas[f]) for f in firsts]
    shape = (alphas.size, seeds)
    out = {q: np.full(shape, np.nan) for q in QUANTITIES}
    certificate = np.full(shape, np.nan)
    converged = np.zeros(shape, dtype=bool)
    rhos = np.empty(seeds)
    children = seeding.stream(seed, "validation.simulate").spawn(seeds)
    bar = tqdm(total=alphas.size * seeds, desc="simulate", disable=progress is False, delay=0 if progress else 3.0,
               leave=False)
    with bar:
        for s, child in enumerate(children):
            s_teacher, s_test, *s_train = child.spawn(2 + len(groups))
            theta = (np.random.default_rng(s_teacher).standard_normal(D) if fixed_theta is None else fixed_theta)
            rhos[s] = float(theta @ theta) / D
            phi_theta = phi @ theta / np.sqrt(p * D)
            rng_test = np.random.default_rng(s_test)
            v_test, nu_test = _draw(generator, features, mean_v, theta, n_test, rng_test, batch_size)
            y_test = sampler(channel, nu_test, rng_test)
            X_test = design(v_test, p)
            w_prev = None
            for g, idx in enumerate(groups):
                # one training set per distinct alpha; every lam of that alpha is fitted on it
                rng = np.random.default_rng(s_train[g])
                v, nu = _draw(generator, features, mean_v, theta, int(ns[idx[0]]), rng, batch_size)
                y = sampler(channel, nu, rng)
                X = design(v, p)
                for i, res in zip(idx, _fits(loss, X, y, lams[idx], w_prev, tol), strict=True):
                    w = res.w
                    w_prev = w
                    h = X @ w
                    h_test = X_test @ w
                    out["train_loss"][i, s] = float(np.mean(loss(y, h)))
                    if classification:
                        out["train_error"][i, s] = float(np.mean(_sign(h) != y))
                        out["test_error"][i, s] = float(np.mean(_sign(h_test) != _sign(nu_test)))
                        out["test_error_noisy"][i, s] = float(np.mean(_sign(h_test) != y_test))
                    else:
                        out["train_error"][i, s] = float(np.mean((y - h) ** 2))
                        out["test_error"][i, s] = float(np.mean((nu_test - h_test) ** 2))
                        out["test_error_noisy"][i, s] = float(np.mean((y_test - h_test) ** 2))
                    out["q"][i, s] = float(w @ omega @ w) / p
                    out["m"][i, s] = float(w @ phi_theta)
                    certificate[i, s] = res.certificate
                    converged[i, s] = res.converged
                    if not res.converged:
                        warnings.warn(f"{res.method} fit at alpha = {alphas[i]:g}, lam = {lams[i]:g}, seed {s} did "
                                      f"not converge (certificate {res.certificate:.3g} > tol {tol:g}); the point "
                                      f"is flagged 'not_converged'", SimulationWarning, stacklevel=2)
                    bar.update(1)
    for arr in (*out.values(), certificate, converged, rhos, alphas, ns, lams):
        arr.setflags(write=False)
    return SimulationResult(alphas=alphas, n=ns, lam=lams, p=p, k=D, n_test=n_test, seeds=seeds, loss=loss.name,
                            channel=channel.name, teacher="averaged" if fixed_theta is None else "fixed", rho=rhos,
                            **out, certificate=certificate, converged=converged,
                            generator=str(getattr(generator, "name", type(generator).__name__)),
                            features="identity" if features is None else
                            str(getattr(features, "name", type(features).__name__)),
                            classification=classification)
