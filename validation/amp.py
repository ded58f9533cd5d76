r"""Finite-size Bayes-optimal inference (GAMP) on Gaussian samples: the simulation that checks
:func:`replica.bayes_optimal` (``docs/bayes_optimal.md``).

:func:`gamp` is generalised approximate message passing (Rangan 2011) for a generalised linear model with a
separable Gaussian prior :math:`b_j \sim N(0, \sigma_j)` and an i.i.d. standard Gaussian design ``D`` (``n x r``),
labels :math:`y_\mu \sim P_0(y \mid D_\mu\cdot b/\sqrt p + \sqrt{\Delta_{\rm eff}}\,\zeta)`. Its denoisers are the
posterior mean of the Gaussian prior and the channel's output function :math:`g = \partial_\omega\log Z_0`
(:class:`replica.bayes.OutputChannel`); this module re-derives no theory.

:func:`simulate_amp` draws the Gaussian covariate model itself: ``(v, u)`` jointly Gaussian with covariance
``[[Omega, Phi], [Phi^T, Psi]]`` (one square root of the joint matrix), a fresh teacher
:math:`\theta \sim N(0, I_k)` per seed, :math:`\nu = \theta\cdot u/\sqrt k` and labels from the channel
(:func:`validation.sample_labels`). The Bayes estimator knows the model: it whitens the features,
:math:`\tilde x = \Omega^{+1/2} v`, rotates them to the eigenbasis of the prior covariance
:math:`\Sigma_b = (p/k)\,\Omega^{+1/2}\Phi\Phi^\top\Omega^{+1/2}` (the design stays i.i.d. Gaussian) and runs
:func:`gamp` with the prior eigenvalues and the averaged unseen variance ``rho - rho_lin`` as channel noise.

Errors are exact given the estimate (no test-set noise): a fresh ``(nu, h)``, ``h = b_hat . x/sqrt(p)``, is
Gaussian with ``Var nu = theta^T Psi theta/k``, ``Var h = q = |b_hat|^2/p`` and ``Cov = m = b_hat . b/p``, so the test
error is ``arccos(m/sqrt(rho q))/pi`` (classification) or ``rho + q - 2m`` (regression), as in :mod:`replica`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaussequiv import checks, seeding
from gaussequiv.seeding import SeedLike
from replica import Channel
from replica.bayes import output_channel
from validation.simulate import _PerSeed, sample_labels

__all__ = ["GampResult", "AmpSimulation", "gamp", "simulate_amp"]

#: Relative size (to the largest eigenvalue) below which an eigenvalue of Omega is treated as zero.
RANK_RTOL = 1e-10
_QUANTITIES = ("test_error", "mse_weights", "q", "m", "rho", "rho_lin")


@dataclass(frozen=True, eq=False)
class GampResult:
    """Outcome of :func:`gamp`.

    Attributes
    ----------
    estimate, variance : ndarray, shape (r,)
        Posterior means and variances of the weights (in the coordinates of the design's columns).
    iterations : int
    converged : bool
        True iff ``status == "converged"``.
    status : str
        ``converged`` (relative change of the estimate below ``tol``), ``max_iterations`` or ``invalid`` (a
        non-finite output function: the run is discarded, never reported as a number).
    residual : float
        Relative change ``|b_t - b_{t-1}| / |b_t|`` of the last iteration.
    q_history : ndarray
        ``|b_t|^2 / p`` per iteration (the state evolution predicts its limit).
    """

    estimate: np.ndarray
    variance: np.ndarray
    iterations: int
    converged: bool
    status: str
    residual: float
    q_history: np.ndarray

    def to_dict(self) -> dict:
        """A flat table, one row per weight: equal-length 1-d numpy arrays (``pandas.DataFrame``-ready).

        Columns: ``index``, ``estimate``, ``variance``, and ``iterations``, ``converged``, ``status``,
        ``residual`` repeated on every row. The per-iteration ``q_history`` has its own table,
        :meth:`history`.

        Examples
        --------
        >>> import numpy as np
        >>> from replica import Channel
        >>> rng = np.random.default_rng(0)
        >>> res = gamp(rng.standard_normal((60, 20)), rng.standard_normal(60), np.ones(20), Channel.linear(1.0))
        >>> {k: len(v) for k, v in res.to_dict().items()} == dict.fromkeys(res.to_dict(), 20)
        True
        """
        r = self.estimate.size
        out = {"index": np.arange(r), "estimate": np.asarray(self.estimate, dtype=float),
               "variance": np.asarray(self.variance, dtype=float)}
        out.update({name: np.full(r, getattr(self, name)) for name in ("iterations", "converged", "status",
                                                                          "residual")})
        return out

    def history(self) -> dict:
        """A flat table, one row per iteration: ``iteration`` (from 1) and ``q`` (``|b_t|^2/p``)."""
        return {"iteration": np.arange(1, self.q_history.size + 1), "q": np.asarray(self.q_history, dtype=float)}


def gamp(design, y, prior_variance, channel: Channel, *, p: int | None = None, noise: float = 0.0,
         max_iter: int = 500, tol: float = 1e-9, damping: float = 0.0) -> GampResult:
    r"""Bayes-optimal GAMP for ``y ~ P0(y | design @ b/sqrt(p) + sqrt(noise) zeta)``, ``b_j ~ N(0, prior_variance_j)``.

    Parameters
    ----------
    design : array, shape (n, r)
        I.i.d. standard Gaussian entries (not scaled: the field is ``design @ b / sqrt(p)``).
    y : array, shape (n,)
        Labels from the channel.
    prior_variance : array, shape (r,)
        ``sigma_j >= 0``: the prior variance of each weight.
    channel : replica.Channel
    p : int, optional
        The normalisation of the field (default ``r``; pass the number of student features when the design keeps
        only the ``r`` directions of positive variance).
    noise : float
        Extra Gaussian variance at the channel input (``rho - rho_lin``: the part of the teacher the features do
        not see).
    max_iter, tol : int, float
        Iteration budget and target of the relative change of the estimate.
    damping : float
        Weight of the old estimate, ``b <- (1 - d) b_new + d b`` (0: plain GAMP).

    Returns
    -------
    GampResult

    Examples
    --------
    Gaussian prior and channel: GAMP's fixed point is the exact posterior mean (ridge with the prior's penalty).

    >>> import numpy as np
    >>> from replica import Channel
    >>> rng = np.random.default_rng(0)
    >>> D = rng.standard_normal((300, 100)); b = rng.standard_normal(100)
    >>> y = D @ b / 10 + np.sqrt(0.5) * rng.standard_normal(300)
    >>> res = gamp(D, y, np.ones(100), Channel.linear(0.5))
    >>> exact = np.linalg.solve(D.T @ D / 100 + 0.5 * np.eye(100), D.T @ y / 10)
    >>> res.status, bool(np.allclose(res.estimate, exact, rtol=1e-6, atol=1e-8))
    ('converged', True)
    """
    design = checks.matrix("design", design)
    n, r = design.shape
    y = checks.vector("y", y, size=n)
    sig = checks.vector("prior_variance", prior_variance, size=r)
    if np.any(sig < 0):
        raise ValueError("prior_variance must be >= 0 (variances)")
    p = r if p is None else checks.integer("p", p)
    noise = checks.real("noise", noise, low=0.0)
    max_iter = checks.integer("max_iter", max_iter)
    tol = checks.real("tol", tol, low=0.0, low_open=True)
    damping = checks.real("damping", damping, low=0.0, high=1.0, high_open=True)
    out = output_channel(channel)
    alpha = n / p
    scale = 1.0 / np.sqrt(p)
    b = np.zeros(r)
    v = sig.copy()
    g = np.zeros(n)
    history = []
    status, residual, iterations = "max_iterations", np.inf, 0
    while iterations < max_iter:
        iterations += 1
        V = float(np.sum(v)) / p
        omega = scale * (design @ b) - V * g
        _, g_new, dg = out(y, omega, V + noise)
        a_hat = -alpha * float(np.mean(dg))
        if not (np.all(np.isfinite(g_new)) and np.isfinite(a_hat) and a_hat > 0):
            status = "invalid"
            break
        g = g_new
        r_vec = b + scale * (design.T @ g) / a_hat
        b_new = sig * a_hat * r_vec / (1.0 + sig * a_hat)
        v = sig / (1.0 + sig * a_hat)
        b_new = (1.0 - damping) * b_new + damping * b
        residual = float(np.linalg.norm(b_new - b) / max(np.linalg.norm(b_new), np.finfo(float).tiny))
        b = b_new
        history.append(float(b @ b) / p)
        if residual < tol:
            status = "converged"
            break
    return GampResult(estimate=b, variance=v, iterations=iterations, converged=status == "converged", status=status,
                      residual=residual, q_history=np.array(history))


@dataclass(frozen=True, eq=False)
class AmpSimulation(_PerSeed):
    """Per-seed measurements of GAMP on the Gaussian covariate model (arrays of shape ``(points, seeds)``).

    :meth:`mean`, :meth:`se` and :attr:`status` are those of :class:`validation.SimulationResult`: a point where
    any seed's run did not converge has NaN mean and standard error and status ``"not_converged"``.

    Attributes
    ----------
    alphas : ndarray
        Nominal ``n/p``; ``n = round(alpha p)`` samples (see ``n``).
    n : ndarray of int
    p, k, seeds : int
    channel : str
    classification : bool
        Whether ``test_error`` is a 0/1 error (labels +-1) or a squared error.
    rho : ndarray
        ``theta^T Psi theta / k`` of each seed's teacher.
    rho_lin : ndarray
        ``|b|^2 / p``: the variance of the part of the teacher field the features see.
    test_error : ndarray
        Exact test error of the GAMP estimate against the noiseless target (module docstring).
    mse_weights : ndarray
        ``|b_hat - b|^2 / p`` (the state evolution predicts ``rho_lin - q``, ``BayesSolution.mmse_weights``).
    q, m : ndarray
        ``|b_hat|^2/p`` and ``b_hat . b/p`` (the state evolution predicts ``m = q``).
    iterations : ndarray of int
    converged : ndarray of bool
    """

    alphas: np.ndarray
    n: np.ndarray
    p: int
    k: int
    seeds: int
    channel: str
    classification: bool
    rho: np.ndarray
    rho_lin: np.ndarray
    test_error: np.ndarray
    mse_weights: np.ndarray
    q: np.ndarray
    m: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray

    def _values(self, quantity: str) -> np.ndarray:
        if quantity not in _QUANTITIES:
            raise ValueError(f"unknown quantity {quantity!r}; choose from {', '.join(_QUANTITIES)}")
        return np.asarray(getattr(self, quantity), dtype=float)

    def to_dict(self) -> dict:
        """A flat table, one row per (point, seed): equal-length 1-d numpy arrays (``pandas.DataFrame``-ready).

        Columns: ``point``, ``alpha``, ``n``, ``seed`` (repetition index), ``rho``, ``rho_lin``,
        ``test_error``, ``mse_weights``, ``q``, ``m``, ``iterations``, ``converged``, ``status`` (of the point),
        and the constants ``p``, ``k``, ``seeds``, ``channel``, ``classification`` repeated on every row.

        Examples
        --------
        >>> import numpy as np
        >>> from replica import Channel
        >>> sim = simulate_amp(np.eye(20), np.eye(20), np.eye(20), Channel.sign(), [1.0, 2.0], seeds=3, seed=0)
        >>> table = sim.to_dict()
        >>> {len(v) for v in table.values()}, table["seed"].tolist()
        ({6}, [0, 1, 2, 0, 1, 2])
        """
        per_run = {name: np.asarray(getattr(self, name), dtype=float) for name in _QUANTITIES[-2:] + _QUANTITIES[:-2]}
        per_run["iterations"] = np.asarray(self.iterations, dtype=int)
        return self._table({"alpha": self.alphas, "n": self.n}, {}, per_run,
                           ("p", "k", "seeds", "channel", "classification"))


def _joint_root(omega: np.ndarray, phi: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """``R`` with ``R R^T = [[Omega, Phi], [Phi^T, Psi]]`` (eigen-decomposition; rounding negatives refused)."""
    joint = np.block([[omega, phi], [phi.T, psi]])
    joint = 0.5 * (joint + joint.T)
    lam, vec = np.linalg.eigh(joint)
    top = max(float(lam.max()), 0.0)
    if lam.min() < -1e-8 * top:
        raise ValueError(f"[[omega, phi], [phi^T, psi]] must be positive semi-definite (a joint covariance); its "
                         f"smallest eigenvalue is {lam.min():.3g} (largest {top:.3g}): phi is inconsistent with "
                         "omega and psi")
    keep = lam > RANK_RTOL * top
    return vec[:, keep] * np.sqrt(lam[keep])


def simulate_amp(omega, phi, psi, channel: Channel, alphas, *, seeds: int = 5, seed: SeedLike = 0,
                 max_iter: int = 500, tol: float = 1e-9) -> AmpSimulation:
    r"""Run :func:`gamp` on samples of the Gaussian covariate model ``(Omega, Phi, Psi)`` with the averaged teacher.

    Parameters
    ----------
    omega : array, shape (p, p)
        Student covariance.
    phi : array, shape (p, k)
        Student-teacher covariance (rows are student features).
    psi : array, shape (k, k)
        Teacher covariance.
    channel : replica.Channel
    alphas : sequence of float
        ``n/p`` of each point.
    seeds : int
        Independent repetitions per point (a fresh teacher ``theta ~ N(0, I_k)`` and fresh data each).
    seed : int, Generator or SeedSequence
        Root of every draw (:func:`gaussequiv.seeding.stream`, kind ``"validation.amp"``).
    max_iter, tol : int, float
        Passed to :func:`gamp`.

    Returns
    -------
    AmpSimulation

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Channel
    >>> sim = simulate_amp(np.eye(50), np.eye(50), np.eye(50), Channel.sign(), [2.0], seeds=2, seed=0)
    >>> sim.status.tolist(), sim.test_error.shape
    (['converged'], (1, 2))
    """
    omega = checks.matrix("omega", omega)
    p = omega.shape[0]
    phi = checks.matrix("phi", phi, (p, None))
    k = phi.shape[1]
    psi = checks.matrix("psi", psi, (k, k))
    checks.instance("channel", channel, Channel, "Channel.sign()")
    alphas = checks.grid("alphas", alphas, low=0.0, low_open=True)
    seeds = checks.integer("seeds", seeds)
    root = _joint_root(omega, phi, psi)
    # the Bayes estimator's view of the model: whitening, the prior covariance and its eigenbasis
    s, e = np.linalg.eigh(0.5 * (omega + omega.T))
    pos = s > RANK_RTOL * max(float(s.max()), 0.0)
    white = e[:, pos] / np.sqrt(s[pos])                       # (p, r): x_tilde = v @ white
    cross = white.T @ phi                                       # (r, k)
    sigma, rot = np.linalg.eigh((p / k) * (cross @ cross.T))
    sigma = np.clip(sigma, 0.0, None)
    to_prior = white @ rot                                      # (p, r): design = v @ to_prior
    b_map = np.sqrt(p / k) * (rot.T @ cross)                    # (r, k): b = b_map @ theta
    rho_avg = float(np.trace(psi)) / k
    noise = max(rho_avg - float(np.sum(sigma)) / p, 0.0)
    ns = np.array([max(1, int(round(a * p))) for a in alphas])
    shape = (alphas.size, seeds)
    rho, rho_lin, err, mse_w, qs, ms = (np.full(shape, np.nan) for _ in range(6))
    iters = np.zeros(shape, dtype=int)
    conv = np.zeros(shape, dtype=bool)
    children = seeding.stream(seed, "validation.amp").spawn(alphas.size * seeds)
    for i, n in enumerate(ns):
        for j in range(seeds):
            rng = np.random.default_rng(children[i * seeds + j])
            theta = rng.standard_normal(k)
            vu = rng.standard_normal((n, root.shape[1])) @ root.T
            v, u = vu[:, :p], vu[:, p:]
            nu = u @ theta / np.sqrt(k)
            y = sample_labels(channel, nu, rng)
            b = b_map @ theta
            res = gamp(v @ to_prior, y, sigma, channel, p=p, noise=noise, max_iter=max_iter, tol=tol)
            rho_t = float(theta @ psi @ theta) / k
            q = float(res.estimate @ res.estimate) / p
            m = float(res.estimate @ b) / p
            rho[i, j], rho_lin[i, j], qs[i, j], ms[i, j] = rho_t, float(b @ b) / p, q, m
            mse_w[i, j] = float(np.sum((res.estimate - b) ** 2)) / p
            iters[i, j], conv[i, j] = res.iterations, res.converged
            if channel.is_classification:
                err[i, j] = np.arccos(np.clip(m / np.sqrt(rho_t * q), -1.0, 1.0)) / np.pi if q > 0 else 0.5
            else:
                err[i, j] = rho_t + q - 2.0 * m
    return AmpSimulation(alphas=alphas, n=ns, p=p, k=k, seeds=seeds, channel=channel.name,
                         classification=bool(channel.is_classification), rho=rho, rho_lin=rho_lin, test_error=err,
                         mse_weights=mse_w, q=qs, m=ms,
                         iterations=iters, converged=conv)
