r"""The spectral ODEs of online SGD (theory §4.4, §4.6) and their integrators.

The state is the per-mode (or per-bin) densities :math:`q^{kl}_b`, :math:`r^{km}_b` and the second-layer
weights :math:`v_k`; :math:`t^{mn}_b` is constant. With bin weights :math:`n_b` (1 per mode when unbinned) and
representative eigenvalues :math:`s_b`, writing :math:`L_k` as a ``K x K`` matrix :math:`\alpha` acting on
student densities and a ``K x M`` matrix :math:`\beta` acting on teacher-partner densities,

.. math::

    \dot r_b = \eta\,[\,s_b\,\alpha\, r_b + \delta^{-1/2}\beta\, t_b\,],\qquad
    \dot q_b = \eta\,(G_b + G_b^\top) + \eta^2 n_b s_b\, (v v^\top)\odot E,\qquad
    G_b = s_b\,\alpha\, q_b + \delta^{-1/2}\beta\, r_b^\top,

with :math:`E_{kl} = \sum_{a,c} u_a u_c I_4(k,l,a,c)`, :math:`u = (v, -A)`. Everything is vectorised over
modes; the only Python-level loop is over time steps.
"""

from __future__ import annotations

import numbers
import time as _time

import numpy as np
from scipy.integrate import DOP853, RK23, RK45

from dynamics.integrals import (
    _I2_ENTRIES,
    _I3_ENTRIES,
    _I4_ENTRIES,
    flat_entries,
    gaussian_integrals,
    generalisation_error,
)
from dynamics.setup import Setup
from dynamics.trajectory import Trajectory
from gaussequiv import checks
from gaussequiv.progress import show as show_progress

__all__ = ["integrate", "bin_modes", "default_times", "REFERENCE_DT"]

#: Step of the reference explicit-Euler scheme (theory §4.6).
REFERENCE_DT = 0.01
#: Relative difference below which eigenvalues count as equal when binning (eigh round-off).
EQUAL_TOL = 1e-12
#: Number of log-spaced output times (plus t = 0) when ``times`` is not given.
N_TIMES = 200
#: A run whose equations become singular once eps_g <= LEARNED_TOL * eps_g(0) has learned the teacher
#: (status "learned"), it has not failed: see :func:`integrate`.
LEARNED_TOL = 1e-8

_METHODS = ("adaptive", "euler", "rk4")
#: scipy explicit Runge-Kutta pairs available to ``method="adaptive"``.
_SOLVERS = {"RK45": RK45, "RK23": RK23, "DOP853": DOP853}


class _Breakdown(Exception):
    """The ODE state left the domain where the equations are defined (det <= 0, NaN, ...)."""


def default_times(t_max: float, n: int = N_TIMES, *, N: int | None = None) -> np.ndarray:
    """``t = 0`` plus ``n`` log-spaced times from ``min(1e-2, t_max/100)`` to ``t_max``.

    Parameters
    ----------
    t_max : float
        Last time (exactly).
    n : int
        Number of log-spaced times.
    N : int, optional
        Round to whole SGD steps (``t = steps / N``) and drop duplicates: the grid :func:`simulate_sgd` would
        record for these times, so that ODE and SGD outputs align index by index. ``t_max`` must then be a
        whole number of steps (``t_max * N`` an integer up to a relative 1e-9), so that both runs end at
        ``t_max``; otherwise ValueError, naming the nearest valid values.

    Examples
    --------
    >>> from dynamics import default_times
    >>> t = default_times(100.0, n=3)
    >>> t.tolist()
    [0.0, 0.01, 1.0, 100.0]
    >>> default_times(1.0, n=4, N=10).tolist()     # 0.01 and 0.0464 round to step 0
    [0.0, 0.2, 1.0]
    >>> default_times(1.06, N=10)
    Traceback (most recent call last):
    ...
    ValueError: t_max must be a whole number of SGD steps when N is given: t_max * N = 10.6 steps; use t_max = 1 or 1.1
    """
    t_max = checks.real("t_max", t_max, low=0.0, low_open=True)
    n = checks.integer("n", n)
    if N is not None:
        N = checks.integer("N", N)
        last = float(np.rint(t_max * N))
        if last < 1 or abs(t_max * N - last) > 1e-9 * last:
            lo, hi = np.floor(t_max * N), np.ceil(t_max * N)
            valid = " or ".join(f"{k / N:.12g}" for k in (lo, hi) if k > 0)
            raise ValueError(f"t_max must be a whole number of SGD steps when N is given: t_max * N = "
                             f"{t_max * N:.12g} steps; use t_max = {valid}")
    t0 = min(1e-2, t_max / 100.0)
    times = np.concatenate([[0.0], np.logspace(np.log10(t0), np.log10(t_max), n)])
    times[-1] = t_max  # exactly, not 10**log10(t_max) (which can exceed t_max by an ulp)
    if N is not None:
        times = np.unique(np.rint(times * N)) / N
        times[-1] = t_max  # the same step (checked above), and exactly t_max: never past it by an ulp
    return times


def bin_modes(eigenvalues, bins) -> np.ndarray:
    """Group eigenmodes into bins of close eigenvalues; returns an integer bin label per mode.

    Parameters
    ----------
    eigenvalues : array_like, shape (N,)
        The spectrum.
    bins : int or array_like of int, shape (N,)
        An integer ``n``: at most ``n`` bins, each a contiguous range of the sorted eigenvalues, chosen to
        minimise the largest bin width ``max(s) - min(s)``. If the spectrum has at most ``n`` distinct
        values (equal up to a relative 1e-12, the round-off of ``eigh``) each bin holds equal eigenvalues
        and binning is exact (theory §4.6).
        An array: explicit labels ``0..n_bins-1``, one per mode.

    Returns
    -------
    numpy.ndarray of int, shape (N,)
        Labels ``0..n_bins-1``, ordered by eigenvalue when ``bins`` is an integer.

    Examples
    --------
    >>> from dynamics import bin_modes
    >>> bin_modes([1.0, 3.0, 1.0, 3.0, 3.0], 2).tolist()
    [0, 1, 0, 1, 1]
    """
    s = np.asarray(eigenvalues, dtype=float)
    N = s.shape[0]
    if isinstance(bins, numbers.Integral) and not isinstance(bins, bool):
        bins = checks.integer("bins", bins)
        order = np.argsort(s, kind="stable")
        ss = s[order]
        # eigenvalues equal up to round-off (relative 1e-12) form one group of "equal" eigenvalues
        tol = EQUAL_TOL * max(float(np.max(np.abs(ss))), np.finfo(float).tiny)
        equal_groups = np.concatenate([[0], np.cumsum(np.diff(ss) > tol)])
        if equal_groups[-1] + 1 <= bins:
            sorted_labels = equal_groups
        else:
            sorted_labels = _min_max_width_partition(ss, int(bins))
        labels = np.empty(N, dtype=int)
        labels[order] = sorted_labels
        return labels
    try:
        labels = np.asarray(bins)
    except Exception:  # pragma: no cover - defensive
        labels = None
    if labels is None or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError("bins must be None, an int (number of bins) or an integer array of labels, one per mode")
    if labels.shape[0] != N:
        raise ValueError(f"bins as labels must have one entry per mode ({N}), got {labels.shape[0]}")
    present = np.unique(labels)
    if present[0] < 0 or not np.array_equal(present, np.arange(present.size)):
        raise ValueError("bin labels must be 0..n_bins-1 with every bin non-empty")
    return labels.astype(int)


def _greedy_groups(ss: np.ndarray, width: float) -> np.ndarray:
    """Start indices of the greedy partition of sorted ``ss`` into runs of span <= width."""
    starts = [0]
    start = 0
    while True:
        start = int(np.searchsorted(ss, ss[start] + width, side="right"))
        if start >= ss.size:
            return np.asarray(starts)
        starts.append(start)


def _min_max_width_partition(ss: np.ndarray, n_bins: int) -> np.ndarray:
    """Labels of the contiguous partition of sorted ``ss`` into <= n_bins runs with the smallest max span."""
    lo, hi = 0.0, float(ss[-1] - ss[0])
    for _ in range(60):  # bisection on the width; the greedy partition is optimal for a given width
        mid = 0.5 * (lo + hi)
        if _greedy_groups(ss, mid).size <= n_bins:
            hi = mid
        else:
            lo = mid
    starts = _greedy_groups(ss, hi)
    labels = np.zeros(ss.size, dtype=int)
    labels[starts[1:]] = 1
    return np.cumsum(labels)


class _SpectralODE:
    """Right-hand side of the binned spectral ODEs, on a flat state vector ``[q, r, v]``."""

    def __init__(self, setup: Setup, labels: np.ndarray | None):
        self.K, self.M, self.N = setup.K, setup.M, setup.N
        K, M = self.K, self.M
        self.act = gaussian_integrals(setup.activation)
        self.eta = setup.eta
        self.inv_sqrt_delta = 1.0 / np.sqrt(setup.delta)
        self.train_v = setup.train_second_layer
        self.T = setup.T
        self.A = setup.A
        s, wp, bp = setup.eigenvalues, setup.student_proj, setup.teacher_proj
        q = wp[:, None, :] * wp[None, :, :]
        r = wp[:, None, :] * bp[None, :, :]
        t = bp[:, None, :] * bp[None, :, :]
        if labels is None:
            self.s_b, self.n_b = s.copy(), np.ones_like(s)
        else:
            order = np.argsort(labels, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(labels[order]) != 0])
            self.n_b = np.diff(np.r_[starts, labels.size]).astype(float)
            self.s_b = np.add.reduceat(s[order], starts) / self.n_b
            q = np.add.reduceat(q[:, :, order], starts, axis=2)
            r = np.add.reduceat(r[:, :, order], starts, axis=2)
            t = np.add.reduceat(t[:, :, order], starts, axis=2)
        self.P = self.s_b.shape[0]
        self.t_flat = t.reshape(M, M * self.P)
        self.y0 = np.concatenate([q.ravel(), r.ravel(), setup.v])
        self.nq, self.nr = K * K * self.P, K * M * self.P
        self.eta2_ns = self.eta**2 * self.n_b * self.s_b
        # Students are fields 0..K-1, teachers K..K+M-1 ("partners" p = 0..L-1). Flat positions in C of the
        # entries each vectorised Gaussian integral reads, gathered in one indexing operation per call:
        # I3(k,p,p) and I3(k,k,p) for all (k, p); I4(k,l,a,c) for all (k, l, a, c); I2(k,p).
        L = K + M
        self.L = L
        kk, pp = np.meshgrid(np.arange(K), np.arange(L), indexing="ij")  # (K, L)
        i3_flat = flat_entries(L, _I3_ENTRIES, np.concatenate([kk.ravel(), kk.ravel()]),
                               np.concatenate([pp.ravel(), kk.ravel()]), np.concatenate([pp.ravel(), pp.ravel()]))
        a4, b4, c4, d4 = np.meshgrid(np.arange(K), np.arange(K), np.arange(L), np.arange(L), indexing="ij")
        i4_flat = flat_entries(L, _I4_ENTRIES, a4.ravel(), b4.ravel(), c4.ravel(), d4.ravel())
        i2_flat = flat_entries(L, _I2_ENTRIES, kk.ravel(), pp.ravel())
        self._flat = np.concatenate([i3_flat.ravel(), i4_flat.ravel(), i2_flat.ravel()])
        n3, n4 = i3_flat.size, i4_flat.size
        self._split3 = (0, n3, len(_I3_ENTRIES))
        self._split4 = (n3, n3 + n4, len(_I4_ENTRIES))
        self._split2 = (n3 + n4, self._flat.size, len(_I2_ENTRIES))
        # Partner weights: u = (v, -A); the pair (k, p = k) is excluded (mask 0).
        self._pair_mask = np.ones((K, L))
        self._pair_mask[np.arange(K), np.arange(K)] = 0.0
        self._eye = np.eye(K, dtype=bool)
        self.C = np.zeros((L, L))
        self.C[K:, K:] = self.T

    def split(self, y: np.ndarray):
        K, M, P = self.K, self.M, self.P
        q = y[: self.nq].reshape(K, K, P)
        r = y[self.nq: self.nq + self.nr].reshape(K, M, P)
        v = y[self.nq + self.nr:]
        return q, r, v

    def order_parameters(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q, r, v = self.split(y)
        Q = np.einsum("klp,p->kl", q, self.s_b) / self.N
        R = r.sum(axis=2) * (self.inv_sqrt_delta / self.N)
        return Q, R, v.copy()

    def _gathered(self, G, part):
        lo, hi, n = part
        return G[lo:hi].reshape(n, -1)

    def __call__(self, t: float, y: np.ndarray) -> np.ndarray:
        # Tiny matrix products: integrate() runs this with BLAS limited to one thread (see _blas_single).
        K, M, P, L = self.K, self.M, self.P, self.L
        q2 = y[: self.nq].reshape(K, K * P)
        r2 = y[self.nq: self.nq + self.nr].reshape(K, M * P)
        v = y[self.nq + self.nr:]
        r3 = r2.reshape(K, M, P)
        C = self.C
        C[:K, :K] = (q2.reshape(K, K, P) @ self.s_b) * (1.0 / self.N)
        C[:K, K:] = r3.sum(axis=2) * (self.inv_sqrt_delta / self.N)
        C[K:, :K] = C[:K, K:].T
        Cs = C[:K]  # (K, L): C_kp
        dC = np.diagonal(C)
        # det of the (k, p) pair covariance; the excluded pairs p = k get det 1 (their weight is masked to 0)
        det = dC[:K, None] * dC[None, :] - Cs * Cs + (1.0 - self._pair_mask)
        if not (det.min() > 0 and dC[:K].min() > 0 and np.isfinite(v.sum())):
            if not (np.isfinite(C.sum()) and np.isfinite(v.sum())):
                raise _Breakdown("the order parameters became NaN or infinite: the dynamics diverged (learning "
                                 "rate too large, or step dt too large for a fixed-step method)")
            raise _Breakdown(
                "a covariance of two local fields became singular (det <= 0): two student units became "
                "identical, a unit aligned exactly with a teacher, or the state diverged; the equations are "
                "undefined there"
            )
        G = C.ravel()[self._flat]
        i3 = self.act.i3_from(*self._gathered(G, self._split3)).reshape(2, K, L)
        i3_kpp, i3_kkp = i3[0], i3[1]
        u = np.concatenate([v, -self.A])
        # L_k as matrices: E[delta_k chi_i] regressed on each pair (lambda_k, z_p), theory §4.4.
        W = (v[:, None] * u[None, :]) * self._pair_mask / det
        own = W * (Cs * i3_kpp - dC[None, :] * i3_kkp)  # coefficient of X^k from partner p
        partner = W * (Cs * i3_kkp - dC[:K, None] * i3_kpp)  # coefficient of the partner density
        alpha = partner[:, :K].copy()
        alpha[self._eye] = own.sum(axis=1) - v * v / dC[:K] * np.diagonal(i3_kkp[:, :K])
        beta = partner[:, K:] * self.inv_sqrt_delta
        # Second-order term E_kl = sum_{a,c} u_a u_c I4(k,l,a,c).
        i4 = self.act.i4_from(*self._gathered(G, self._split4))
        E = (i4.reshape(K * K, L * L) @ (u[:, None] * u[None, :]).ravel()).reshape(K, K)
        if not np.isfinite(alpha.sum() + beta.sum() + E.sum()):
            raise _Breakdown("a Gaussian integral became NaN or infinite")
        vv = v[:, None] * v[None, :]
        # Per-mode right-hand sides, vectorised over modes (or bins).
        eta = self.eta
        Gq = (alpha @ q2).reshape(K, K, P) * self.s_b
        Gq += (beta @ r3.transpose(1, 0, 2).reshape(M, K * P)).reshape(K, K, P)
        dq = Gq + Gq.transpose(1, 0, 2)
        dq *= eta
        dq += (vv * E)[:, :, None] * self.eta2_ns
        dr = (alpha @ r2).reshape(K, M, P) * self.s_b
        dr += (beta @ self.t_flat).reshape(K, M, P)
        dr *= eta
        if self.train_v:
            i2 = self.act.i2_from(*self._gathered(G, self._split2)).reshape(K, L)
            dv = -eta * (i2 @ u)
        else:
            dv = np.zeros(K)
        return np.concatenate([dq.ravel(), dr.ravel(), dv])


def _blas_single():
    """Limit BLAS to one thread while integrating.

    The right-hand side and scipy's RK45 make many tiny BLAS calls; a multi-threaded BLAS on a busy machine
    spends more time synchronising threads than computing (measured: 5x slower on 2 shared cores).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _check_times(t_max, times) -> tuple[float, np.ndarray]:
    t_max = checks.real("t_max", t_max, low=0.0, low_open=True)
    if times is None:
        return t_max, default_times(t_max)
    times = checks.grid("times", times, low=0.0)
    if np.any(np.diff(times) <= 0) or times[-1] > t_max:
        raise ValueError(f"times must be strictly increasing and within [0, t_max = {t_max:g}]")
    return t_max, times


def _progress(enabled: bool | None, total: float, desc: str = "integrate"):
    """A tqdm bar over simulated time, or None when :func:`gaussequiv.progress.show` says no bar.

    With ``enabled=None`` the bar waits 3 s before it first draws, so quick runs on a terminal stay quiet.
    Advance it with ``bar.update(increment)`` (``update`` honours the delay, ``refresh`` would not).
    """
    if not show_progress(enabled):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="t", desc=desc, leave=False, delay=0 if enabled else 3.0,
                bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]")


def integrate(
    setup: Setup,
    t_max: float,
    *,
    times=None,
    method: str = "adaptive",
    bins=None,
    dt: float = REFERENCE_DT,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    solver: str = "RK45",
    progress: bool | None = None,
) -> Trajectory:
    r"""Integrate the spectral ODEs of online SGD (theory §4.4) from the state in ``setup``.

    Parameters
    ----------
    setup : Setup
        Spectrum, initial per-mode projections and parameters (:meth:`Setup.from_network`).
    t_max : float
        Final time, in units of ``steps / N``.
    times : array_like, optional
        Output times in ``[0, t_max]``, strictly increasing. Default: ``t = 0`` plus 200 log-spaced times
        (:func:`default_times`).
    method : {"adaptive", "euler", "rk4"}
        ``"euler"``: explicit Euler with step ``dt``, the reproducibility reference of theory §4.6 (fixed
        grid ``n dt``; values between grid points are the Euler step from the last grid point, i.e. linear
        interpolation). ``"rk4"``: classical Runge-Kutta on the same grid (dense output by a partial RK4
        step). ``"adaptive"``: a scipy Runge-Kutta pair (``solver``, default ``RK45``) with error control
        ``rtol``, ``atol`` and its dense output.
    bins : None, int or array of int
        ``None``: one density per eigenmode. Otherwise eigenmodes are grouped (:func:`bin_modes`) and bin
        sums are tracked with the bin-mean eigenvalue: exact when each bin holds equal eigenvalues, an
        approximation controlled by the bin width otherwise.
    dt : float
        Step of the fixed-step methods (default 0.01, the reference).
    rtol, atol : float
        Tolerances of the adaptive method.
    solver : {"RK45", "RK23", "DOP853"}
        scipy Runge-Kutta pair of the adaptive method. Once the fast modes have relaxed the step is limited
        by stability, not accuracy, and the cheaper ``"RK23"`` (with e.g. ``rtol=1e-6``) is about 1.5 times
        faster for long runs.
    progress : bool or None
        Show a tqdm bar over simulated time. None (default): only on a terminal or in a notebook
        (:func:`gaussequiv.progress.show`), and there only once the run has lasted 3 s.

    Returns
    -------
    Trajectory
        ``eps_g`` carries the 1/2: :math:`\frac12 E(\hat y - y)^2`. If the state leaves the domain of the
        equations (a determinant <= 0, NaN), integration stops and the trajectory ends at the last valid output
        time, with ``status == "failed"``; or with ``status == "learned"`` when by then
        ``eps_g <= LEARNED_TOL * eps_g(0)`` (1e-8): a student that reproduces its teacher to round-off makes the
        pair covariance of their fields singular (on isotropic inputs perfect learning is reachable), and the
        state is the perfect-learning fixed point, so stopping loses nothing (the reference integrator stops
        at eps_g < 1e-14, theory §4.6). Both ``"completed"`` and ``"learned"`` count as ``converged``.

    Notes
    -----
    *Binning accuracy* (measured on the benchmark problem of ``benchmarks/dynamics_bench.py``: single-layer
    sign generator with exact covariances, N = 3072, D = 100, K = M = 2, eta = 0.2, 200 output times up to
    t = 1000), largest ``|eps_g(binned) - eps_g(unbinned)|``: 5 bins 4.6e-3, 10 bins 9.1e-4, 20 bins 5.0e-4,
    50 bins 2.4e-4, 200 bins 1.0e-6 (relative 8.5e-6). With equal eigenvalues in every bin the binned
    equations are exact: on a common fixed-step grid binned and unbinned runs agree to round-off; adaptive
    runs pick their own steps, so they agree to the solver tolerance.

    *Cost.* One right-hand side costs ``O(P K^2 (K + M))`` for ``P`` modes or bins plus a fixed overhead
    for the Gaussian integrals. The adaptive step is limited by stability of the fastest modes (rate about
    ``eta s_max``), so binning reduces the cost per step, not the number of steps.

    *Why the adaptive pair is stepped by hand, not through* ``scipy.integrate.solve_ivp``. Measured with
    ``benchmarks/dynamics_bench.py`` (same RK45 steps, ``eps_g`` equal to 3e-16, interleaved repeats): no
    speed difference beyond the noise of a shared machine (t = 1000, N = 3072: medians 16.6 s and 19.0 s
    unbinned, 9.9 s and 9.6 s with 200 bins). ``solve_ivp`` would need a right-hand side that returns NaN
    instead of raising (an exception loses every output computed so far), an extra event evaluation per step
    for the determinants, and would lose the breakdown's reason and the progress bar; so it is not used.

    Examples
    --------
    >>> import numpy as np
    >>> from dynamics import Setup, Student, integrate
    >>> rng = np.random.default_rng(0)
    >>> N, D = 40, 20
    >>> F = rng.standard_normal((N, D)) / np.sqrt(D)
    >>> student = Student.random(K=2, N=N, seed=1)
    >>> setup = Setup.from_weights(student.w, student.v, rng.standard_normal((2, D)), np.ones(2),
    ...                            omega=F @ F.T, phi=F, eta=0.2)
    >>> traj = integrate(setup, 10.0, times=[0.0, 5.0, 10.0])
    >>> traj.status, traj.eps_g.shape
    ('completed', (3,))
    >>> bool(traj.eps_g[-1] < traj.eps_g[0])
    True
    """
    checks.instance("setup", setup, Setup)
    t_max, times = _check_times(t_max, times)
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    dt, rtol, atol = (checks.real(name, value, low=0.0, low_open=True)
                      for name, value in (("dt", dt), ("rtol", rtol), ("atol", atol)))
    if not isinstance(solver, str) or solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {sorted(_SOLVERS)}, got {solver!r}")
    labels = None if bins is None else bin_modes(setup.eigenvalues, bins)
    ode = _SpectralODE(setup, labels)
    start = _time.perf_counter()
    # Invalid operations surface as NaN/inf and are caught by the explicit checks (status "failed").
    with _blas_single(), np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if method == "adaptive":
            ys, t_done, message, y_last = _run_adaptive(ode, _SOLVERS[solver], times, rtol, atol, progress)
        else:
            step = _euler_step if method == "euler" else _rk4_step
            ys, t_done, message, y_last = _run_fixed(ode, step, times, float(dt), progress)
    elapsed = _time.perf_counter() - start
    n_out = len(ys)
    Qs = np.empty((n_out, setup.K, setup.K))
    Rs = np.empty((n_out, setup.K, setup.M))
    vs = np.empty((n_out, setup.K))
    for i, y in enumerate(ys):
        Qs[i], Rs[i], vs[i] = ode.order_parameters(y)
    eps = generalisation_error(Qs, Rs, np.broadcast_to(setup.T, (n_out, setup.M, setup.M)), vs,
                               np.broadcast_to(setup.A, (n_out, setup.M)), setup.activation)
    status = "completed" if message is None else "failed"
    if message is not None:
        eps_last = _eps_g_of_state(ode, setup, y_last)
        if eps_last <= LEARNED_TOL * setup.eps_g:
            status = "learned"
            message = (f"stopped at t = {t_done:.6g}: eps_g = {eps_last:.3g} <= {LEARNED_TOL:g} eps_g(0), the student "
                       "reproduces the teacher to round-off; there the equations (regressions on pairs of local "
                       "fields) are singular, and the state is the perfect-learning fixed point, where eps_g stays "
                       f"0 ({message})")
    info = {"N": setup.N, "K": setup.K, "M": setup.M, "delta": setup.delta, "eta": setup.eta,
            "activation": setup.activation, "activation_formula": ode.act.formula,
            "train_second_layer": setup.train_second_layer,
            "n_bins": ode.P, "binned": labels is not None, "dt": float(dt) if method != "adaptive" else None,
            "rtol": rtol if method == "adaptive" else None, "atol": atol if method == "adaptive" else None,
            "solver": solver if method == "adaptive" else None,
            "t_max": t_max, "wall_time_s": elapsed}
    return Trajectory(t=times[:n_out], eps_g=eps, Q=Qs, R=Rs, v=vs, T=setup.T, A=setup.A, source="ode",
                      method=method, status=status,
                      message=message or f"reached t = {t_done:.6g}", info=info)


def _eps_g_of_state(ode: _SpectralODE, setup: Setup, y: np.ndarray) -> float:
    """eps_g of a state vector; NaN if it cannot be evaluated (a state that is not a covariance)."""
    try:
        Q, R, v = ode.order_parameters(y)
        return float(generalisation_error(Q, R, setup.T, v, setup.A, setup.activation))
    except (FloatingPointError, ValueError):
        return float("nan")


def _euler_step(f, t, y, h):
    return y + h * f(t, y)


def _rk4_step(f, t, y, h):
    k1 = f(t, y)
    k2 = f(t + 0.5 * h, y + 0.5 * h * k1)
    k3 = f(t + 0.5 * h, y + 0.5 * h * k2)
    k4 = f(t + h, y + h * k3)
    return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def _run_fixed(ode: _SpectralODE, step, times: np.ndarray, dt: float, progress):
    """Fixed grid ``n dt``; an output time between grid points is a partial step from the grid point."""
    bar = _progress(progress, float(times[-1]))
    ys: list[np.ndarray] = []
    y = ode.y0.copy()
    n = 0
    out = 0
    try:
        while out < times.size:
            t_grid = n * dt
            # emit every output time in [t_grid, t_grid + dt)
            while out < times.size and times[out] < t_grid + dt - 1e-12 * max(1.0, t_grid):
                h = times[out] - t_grid
                y_out = y.copy() if h <= 1e-12 * max(1.0, t_grid) else step(ode, t_grid, y, h)
                if not np.all(np.isfinite(y_out)):
                    raise _Breakdown("the state became NaN or infinite")
                ys.append(y_out)
                out += 1
            if out >= times.size:
                break
            y = step(ode, t_grid, y, dt)
            n += 1
            if bar is not None and n % 100 == 0:
                bar.update(min(n * dt, bar.total) - bar.n)
    except (_Breakdown, FloatingPointError) as exc:
        return ys, n * dt, f"failed at t = {n * dt:.6g}: {exc}", y
    finally:
        if bar is not None:
            bar.close()
    return ys, times[-1], None, y


def _run_adaptive(ode: _SpectralODE, solver_cls, times: np.ndarray, rtol: float, atol: float, progress):
    """A scipy Runge-Kutta pair stepped by hand, so that a breakdown keeps the outputs computed so far."""
    bar = _progress(progress, float(times[-1]))
    ys: list[np.ndarray] = []
    out = 0
    while out < times.size and times[out] <= 0.0:
        ys.append(ode.y0.copy())
        out += 1
    if out == times.size:
        return ys, 0.0, None, ode.y0
    solver = None
    try:
        solver = solver_cls(ode, 0.0, ode.y0.copy(), float(times[-1]), rtol=rtol, atol=atol)
        while out < times.size:
            msg = solver.step()
            if solver.status == "failed":
                return ys, solver.t, f"failed at t = {solver.t:.6g}: {msg}", solver.y
            if out < times.size and times[out] <= solver.t:
                dense = solver.dense_output()
                while out < times.size and times[out] <= solver.t:
                    y_out = solver.y.copy() if times[out] == solver.t else dense(times[out])
                    if not np.all(np.isfinite(y_out)):
                        raise _Breakdown("the state became NaN or infinite")
                    ys.append(y_out)
                    out += 1
            if bar is not None:
                bar.update(min(solver.t, bar.total) - bar.n)
            if solver.status == "finished" and out < times.size:  # pragma: no cover - defensive
                return ys, solver.t, f"solver finished at t = {solver.t:.6g} before the last output time", solver.y
    except (_Breakdown, FloatingPointError) as exc:
        t_fail, y_last = (0.0, ode.y0) if solver is None else (solver.t, solver.y)
        return ys, t_fail, f"failed near t = {t_fail:.6g}: {exc}", y_last
    finally:
        if bar is not None:
            bar.close()
    return ys, times[-1], None, solver.y
