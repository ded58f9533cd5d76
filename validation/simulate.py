r"""Finite-size simulations of ERM on generator data, measured in the theory's conventions (theory §1.4, §2.4).

For each ``alpha`` and seed: draw ``n = round(alpha p)`` fresh latents ``c ~ N(0, I_D)``, form
``x = G(c)``, the features ``v = features(x) - mean_v`` (centred with the **same** means the theory's
covariances were estimated with, theory §1.1), the teacher field ``nu = theta . c/sqrt(D)`` and labels
``y ~ P0(.|nu)`` from the channel with its noise. Fit

.. math:: \hat w = \arg\min_w \sum_\mu \ell(y^\mu, w\cdot v^\mu/\sqrt p) + \frac\lambda2\|w\|^2

(:mod:`validation.fit`) and measure, on the training set and on ``n_test`` fresh samples,

* ``train_loss`` = :math:`\frac1n\sum_\mu \ell(y^\mu, h^\mu)` (penalty excluded); not for the square loss,
  where it is ``train_error/2`` (measured once, as ``train_error``);
* ``train_error``: 0/1 error against the training labels (classification) or MSE ``(1/n) sum (y - h)^2``
  (regression; no 1/2);
* ``test_error``: 0/1 error against ``sign(nu)`` or MSE ``(nu - h)^2`` against the clean teacher field;
* ``test_error_noisy``: the same against fresh noisy labels; only for a channel with label noise (a noiseless
  channel, ``Channel.linear()`` or ``Channel.sign()``, has labels equal to the clean target, so this would
  repeat ``test_error``: it is not measured);
* ``q`` = :math:`\hat w^\top\Omega\hat w/p` and ``m`` = :math:`\hat w^\top\Phi\theta_0/\sqrt{pk}` with the
  theory's own ``Omega`` and ``Phi``.

A quantity that would repeat another one is not measured (its field is None and
:attr:`SimulationResult.quantities` omits it), so that it is neither tabulated twice nor counted twice by the
verdict rule of :mod:`validation.compare`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, fields, replace

import numpy as np
from tqdm.auto import tqdm

from gaussequiv import checks, seeding
from gaussequiv.progress import show as show_progress
from gaussequiv.seeding import SeedLike
from validation.fit import design, fit_path

__all__ = ["Covariances", "SimulationResult", "SimulationWarning", "simulate", "sample_labels", "QUANTITIES"]

#: The measured quantities, named as the fields of :class:`replica.Solution` (less those that would repeat another:
#: :attr:`SimulationResult.quantities`).
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
    """``sign`` with ``sign(0) = +1``, the convention of the labels (:meth:`replica.Channel.sample`)."""
    return np.where(x >= 0, 1.0, -1.0)


def _noiseless(channel) -> bool:
    """True for a channel whose label is a function of ``nu`` alone (``linear`` without noise, ``sign`` without
    flips): its test error against fresh labels is the clean test error, measured once."""
    return getattr(channel, "noise", None) == 0 and getattr(channel, "flip", 0) == 0


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

    checks.instance("channel", channel, Channel, "Channel.sign()")
    return channel.sample(nu, seeding.rng(seed, "validation.labels"))


# ------------------------------------------------------------------------------------------------- result
class _PerSeed:
    """Statistics over seeds shared by the results whose measurements have shape ``(points, seeds)``
    (:class:`SimulationResult`, :class:`validation.amp.AmpSimulation`).

    The class provides ``converged`` (bool, ``(points, seeds)``), ``seeds`` and ``_values(quantity)`` (the
    ``(points, seeds)`` array of a quantity, or a ValueError naming the valid ones).
    """

    @property
    def status(self) -> np.ndarray:
        """``"converged"`` or ``"not_converged"`` per point (all seeds must converge)."""
        return np.where(self.converged.all(axis=1), "converged", "not_converged")

    def mean(self, quantity: str) -> np.ndarray:
        """Mean over seeds per point (NaN where a seed's run did not converge)."""
        vals = np.asarray(self._values(quantity), dtype=float)
        return np.where(self.converged.all(axis=1), vals.mean(axis=1), np.nan)

    def se(self, quantity: str) -> np.ndarray:
        """Standard error of the mean over seeds (``std(ddof=1)/sqrt(seeds)``; NaN with one seed, and where a
        seed's run did not converge)."""
        vals = np.asarray(self._values(quantity), dtype=float)
        if self.seeds < 2:
            return np.full(vals.shape[0], np.nan)
        return np.where(self.converged.all(axis=1), vals.std(axis=1, ddof=1) / np.sqrt(self.seeds), np.nan)

    def _table(self, per_point: dict, per_seed: dict, per_run: dict, constants: tuple[str, ...]) -> dict:
        """The flat table of :meth:`to_dict`: one row per (point, seed), ``point`` and ``seed`` first, then the
        ``(points,)`` columns, the ``(seeds,)`` columns, the ``(points, seeds)`` columns, ``converged``,
        ``status`` (of the point) and the fields named in ``constants`` repeated on every row."""
        points, seeds = self.converged.shape
        rows = points * seeds
        out = {"point": np.repeat(np.arange(points), seeds)}
        out.update({k: np.repeat(np.asarray(v), seeds) for k, v in per_point.items()})
        out["seed"] = np.tile(np.arange(seeds), points)
        out.update({k: np.tile(np.asarray(v), points) for k, v in per_seed.items()})
        out.update({k: np.asarray(v).reshape(rows) for k, v in per_run.items()})
        out["converged"] = np.asarray(self.converged, dtype=bool).reshape(rows)
        out["status"] = np.repeat(self.status, seeds)
        out.update({name: np.full(rows, getattr(self, name)) for name in constants})
        return out


@dataclass(frozen=True, eq=False)
class SimulationResult(_PerSeed):
    """Per-seed measurements of ERM on generator samples, with means and standard errors over seeds.

    Arrays of measurements have shape ``(points, seeds)``: one point per alpha (an alpha sweep) or per lam (a
    lambda path, all points of a seed fitted on the same training set). :meth:`mean` and :meth:`se` are NaN at a
    point where any seed's fit did not converge (``status[i] == "not_converged"``): such a point is
    flagged, never reported as a number. :meth:`to_dict` is a flat table, one row per (point, seed):
    ``pandas.DataFrame(result.to_dict())``.

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
        Per-seed measurements (see the module docstring for which quantity each is). ``test_error_noisy`` is
        None for a noiseless channel (it would repeat ``test_error``), ``train_loss`` for the square loss (it
        would be ``train_error/2``).
    certificate : ndarray
        The fit's convergence certificate (:class:`validation.fit.Fit`).
    converged : ndarray of bool
        Per point and seed.
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
    test_error_noisy: np.ndarray | None
    train_loss: np.ndarray | None
    train_error: np.ndarray
    q: np.ndarray
    m: np.ndarray
    certificate: np.ndarray
    converged: np.ndarray
    generator: str = ""
    features: str = ""
    classification: bool = False

    @property
    def quantities(self) -> tuple[str, ...]:
        """The measured quantities: :data:`QUANTITIES` without the ones that would repeat another (module
        docstring): ``test_error_noisy`` of a noiseless channel, ``train_loss`` of the square loss."""
        return tuple(q for q in QUANTITIES if getattr(self, q) is not None)

    def _values(self, quantity: str) -> np.ndarray:
        if quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {quantity!r}; choose from {QUANTITIES}")
        if getattr(self, quantity) is None:
            why = (f"the {self.channel!r} channel has no label noise, so it equals 'test_error'"
                   if quantity == "test_error_noisy" else "for the square loss it is 'train_error'/2")
            raise ValueError(f"{quantity!r} was not measured: {why}; choose from {self.quantities}")
        return getattr(self, quantity)

    def select_seeds(self, seeds) -> SimulationResult:
        """The result restricted to some of its seeds (repetitions), in the order given.

        Seeds are independent repetitions, so disjoint blocks of one simulation are independent simulations
        (e.g. to study the spread of a statistic over repetitions without re-running the estimator).

        Examples
        --------
        >>> import numpy as np
        >>> from replica import Channel, Loss
        >>> from validation import gaussian_control
        >>> ctrl = gaussian_control(Covariances(np.eye(10), 0.8 * np.eye(10), np.zeros(10)), np.ones(10))
        >>> sim = simulate(ctrl.generator, None, ctrl.teacher, Channel.linear(), Loss.square(), 0.1, [1.0],
        ...                covariances=ctrl.covariances, n_test=100, seeds=4, seed=0)
        >>> part = sim.select_seeds([2, 3])
        >>> part.seeds, bool(np.all(part.q == sim.q[:, 2:]))
        (2, True)
        """
        idx = np.asarray(list(seeds) if not isinstance(seeds, np.ndarray) else seeds)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(f"seeds must be a non-empty sequence of seed indices (ints), got {seeds!r}")
        if np.unique(idx).size != idx.size or idx.min() < 0 or idx.max() >= self.seeds:
            raise ValueError(f"seeds must be distinct indices in [0, {self.seeds}), got {idx.tolist()}")
        kw = {q: (None if getattr(self, q) is None else getattr(self, q)[:, idx]) for q in QUANTITIES}
        return replace(self, seeds=int(idx.size), rho=self.rho[idx], certificate=self.certificate[:, idx],
                       converged=self.converged[:, idx], **kw)

    def to_dict(self) -> dict:
        """A flat table, one row per (point, seed): equal-length 1-d numpy arrays (``pandas.DataFrame``-ready).

        Columns: ``point``, ``alpha``, ``lam``, ``n``, ``seed`` (repetition index), ``rho`` (that seed's
        teacher), each of :attr:`quantities`, ``certificate``, ``converged``, ``status`` (of the point), and
        the constants ``p``, ``k``, ``n_test``, ``seeds``, ``loss``, ``channel``, ``teacher``, ``generator``,
        ``features``, ``classification`` repeated on every row.

        Examples
        --------
        >>> import numpy as np
        >>> from replica import Channel, Loss
        >>> from validation import gaussian_control
        >>> ctrl = gaussian_control(Covariances(np.eye(20), 0.8 * np.eye(20), np.zeros(20)), np.ones(20))
        >>> sim = simulate(ctrl.generator, None, ctrl.teacher, Channel.sign(), Loss.logistic(), 0.1, [1.0, 2.0],
        ...                covariances=ctrl.covariances, n_test=200, seeds=3, seed=0)
        >>> table = sim.to_dict()
        >>> {len(v) for v in table.values()}, "test_error_noisy" in table
        ({6}, False)
        """
        per_run = {q: np.asarray(getattr(self, q), dtype=float) for q in self.quantities}
        per_run["certificate"] = np.asarray(self.certificate, dtype=float)
        return self._table({"alpha": self.alphas, "lam": self.lam, "n": self.n},
                           {"rho": np.asarray(self.rho, dtype=float)}, per_run,
                           ("p", "k", "n_test", "seeds", "loss", "channel", "teacher", "generator", "features",
                            "classification"))

    def to_csv(self, path: str | os.PathLike, per_seed: bool = False, *, metadata: dict | None = None) -> None:
        """One row per point (means and standard errors), or with ``per_seed=True`` the table of :meth:`to_dict`
        (one row per (point, seed)), under a header row (floats round-trip exactly); the sidecar
        ``path-metadata.json`` (:mod:`gaussequiv.tables`) holds the sizes, the teacher, the estimator and
        ``metadata``."""
        from gaussequiv.tables import write_csv

        if per_seed:
            table = self.to_dict()
        else:
            table = {"alpha": self.alphas, "n": self.n}
            for q in self.quantities:
                table[q], table[f"{q}_se"] = self.mean(q), self.se(q)
            table.update(status=self.status, seeds=[self.seeds] * len(self.alphas), lam=self.lam,
                         loss=[self.loss] * len(self.alphas), channel=[self.channel] * len(self.alphas))
        info = {name: getattr(self, name) for name in ("p", "k", "n_test", "seeds", "loss", "channel", "teacher",
                                                       "generator", "features", "classification")}
        write_csv(path, table, {**info, "per_seed": per_seed, **(metadata or {})})

    def save(self, path: str | os.PathLike) -> None:
        """Write all fields to an ``.npz`` file (no pickles); read back with :meth:`load`."""
        arrays = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:  # a quantity that would repeat another one
                arrays[f.name] = np.str_(v) if isinstance(v, str) else np.asarray(v)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SimulationResult:
        """Read a result written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            missing = {fl.name for fl in fields(cls)} - set(f.files) - {"test_error_noisy", "train_loss"}
            if missing:
                raise ValueError(f"{path} is not a saved SimulationResult: missing {sorted(missing)}")
            kw = {"test_error_noisy": None, "train_loss": None}
            for fl in fields(cls):
                if fl.name not in f.files:
                    continue
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
        Convergence target of the fits' certificates (:func:`validation.fit.fit`): the certified relative
        weight error for the square and smooth losses, the relative duality gap for the hinge.
    batch_size : int
        Samples per generator call.
    progress : bool or None
        tqdm bar over (alpha, seed). None (default): only on a terminal or in a notebook
        (:func:`gaussequiv.progress.show`), and there only once the run has lasted 3 s.

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
    if p is not None and checks.integer("p", p) != p_feat:
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
    from replica import Channel, Loss

    checks.instance("channel", channel, Channel, "Channel.sign()")
    checks.instance("loss", loss, Loss, "Loss.logistic()")  # (hasattr(loss, "expr") would build it with sympy)
    lam_path = np.ndim(lam) > 0
    if lam_path and np.ndim(alphas) > 0 and np.size(alphas) != 1:
        raise ValueError("give either a sequence of alphas with a scalar lam (an alpha sweep) or a sequence of lam "
                         "with a scalar alpha (a lambda path), not both")
    lams = checks.grid("lam", lam, low=0.0)
    if np.any(lams == 0) and not getattr(loss, "is_square", False):
        raise ValueError(f"lam must be > 0 for the {getattr(loss, 'name', '?')} loss (lam = 0, the minimum-norm "
                         f"interpolator, only for the square loss), got {lams.tolist()}")
    alphas = checks.grid("alphas", alphas, low=0.0, low_open=True)
    if lam_path:
        alphas = np.full(lams.size, alphas[0])
    else:
        lams = np.full(alphas.size, lams[0])
    n_test = checks.integer("n_test", n_test)
    seeds = checks.integer("seeds", seeds)
    batch_size = checks.integer("batch_size", batch_size)
    tol = checks.real("tol", tol, low=0.0, low_open=True)
    ns = np.maximum(1, np.rint(alphas * p)).astype(int)
    classification = bool(channel.is_classification)
    repeats = {"test_error_noisy": _noiseless(channel), "train_loss": bool(getattr(loss, "is_square", False))}
    measured = tuple(q for q in QUANTITIES if not repeats.get(q, False))

    # points sharing an alpha share a training set (a lambda path); groups in order of first appearance
    firsts = sorted(np.unique(alphas, return_index=True)[1])
    groups = [np.flatnonzero(alphas == alphas[f]) for f in firsts]
    shape = (alphas.size, seeds)
    out = {q: np.full(shape, np.nan) for q in measured}
    certificate = np.full(shape, np.nan)
    converged = np.zeros(shape, dtype=bool)
    rhos = np.empty(seeds)
    children = seeding.stream(seed, "validation.simulate").spawn(seeds)
    bar = tqdm(total=alphas.size * seeds, desc="simulate", disable=not show_progress(progress),
               delay=0 if progress else 3.0, leave=False)
    with bar:
        for s, child in enumerate(children):
            s_teacher, s_test, *s_train = child.spawn(2 + len(groups))
            theta = (np.random.default_rng(s_teacher).standard_normal(D) if fixed_theta is None else fixed_theta)
            rhos[s] = float(theta @ theta) / D
            phi_theta = phi @ theta / np.sqrt(p * D)
            rng_test = np.random.default_rng(s_test)
            v_test, nu_test = _draw(generator, features, mean_v, theta, n_test, rng_test, batch_size)
            y_test = channel.sample(nu_test, rng_test)
            X_test = design(v_test, p)
            w_prev = None
            for g, idx in enumerate(groups):
                # one training set per distinct alpha; every lam of that alpha is fitted on it
                rng = np.random.default_rng(s_train[g])
                v, nu = _draw(generator, features, mean_v, theta, int(ns[idx[0]]), rng, batch_size)
                y = channel.sample(nu, rng)
                X = design(v, p)
                for i, res in zip(idx, fit_path(loss, X, y, lams[idx], w0=w_prev, tol=tol), strict=True):
                    w = res.w
                    w_prev = w
                    h = X @ w
                    h_test = X_test @ w
                    if "train_loss" in out:
                        out["train_loss"][i, s] = float(np.mean(loss(y, h)))
                    if classification:
                        out["train_error"][i, s] = float(np.mean(_sign(h) != y))
                        out["test_error"][i, s] = float(np.mean(_sign(h_test) != _sign(nu_test)))
                        if "test_error_noisy" in out:
                            out["test_error_noisy"][i, s] = float(np.mean(_sign(h_test) != y_test))
                    else:
                        out["train_error"][i, s] = float(np.mean((y - h) ** 2))
                        out["test_error"][i, s] = float(np.mean((nu_test - h_test) ** 2))
                        if "test_error_noisy" in out:
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
                            **{"test_error_noisy": None, "train_loss": None, **out}, certificate=certificate,
                            converged=converged,
                            generator=str(getattr(generator, "name", type(generator).__name__)),
                            features="identity" if features is None else
                            str(getattr(features, "name", type(features).__name__)),
                            classification=classification)
