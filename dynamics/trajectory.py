"""The result objects of :func:`dynamics.integrate` and :func:`dynamics.simulate_sgd` (:class:`Trajectory`) and
the plateau analysis researchers otherwise repeat by hand (:class:`Plateau`, :func:`find_plateau`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields

import numpy as np

from gaussequiv import checks

__all__ = ["Plateau", "Trajectory", "find_plateau"]

EPS_G_NOTE = "eps_g = 1/2 E[(yhat - y)^2] (half mean squared error, with the 1/2)"
#: Default threshold on the local exponent |d ln eps_g / d ln t| below which eps_g counts as flat.
PLATEAU_THRESHOLD = 0.05
#: Default minimal extent of a plateau, as the ratio t_end / t_start.
PLATEAU_MIN_SPAN = 2.0
#: Default fraction below the plateau height that defines the escape.
ESCAPE_FRACTION = 0.5
#: Default width, as a factor in time, of the window over which the local exponent is fitted.
SLOPE_WINDOW = 2.0


@dataclass(frozen=True)
class Plateau:
    r"""Plateau height and length and escape time of a learning curve (:func:`find_plateau`).

    Definitions, on the curve's output grid :math:`0 < t_1 < t_2 < \dots` (``t = 0`` is ignored):

    * the *local exponent* is :math:`\sigma(t) = d\ln\epsilon_g/d\ln t`, estimated at each output time
      :math:`t_j` as the least-squares slope of :math:`\ln\epsilon_g` against :math:`\ln t` over the output
      times in :math:`[t_j/\sqrt w, t_j\sqrt w]` (``w = window``, default 2; at least the two neighbours).
      The fit averages out the noise of a mean over SGD runs; on a smooth curve it is the derivative averaged
      over the window. Relative to :math:`\epsilon_g`, so the threshold does not depend on the scale of the
      error;
    * the *initial descent* starts at the first output time with :math:`|\sigma| \ge` ``threshold`` (before
      it, :math:`\epsilon_g(t) \approx \epsilon_g(0) - ct` also looks flat on a log axis);
    * the *plateau* is the first maximal interval after that where :math:`|\sigma| <` ``threshold``, extending
      over at least a factor ``min_span`` in time; ``t_start`` and ``t_end`` are where :math:`|\sigma|` crosses
      the threshold (linear interpolation in :math:`\ln t`; a plateau still flat at the last output time ends
      there), ``length = t_end - t_start``;
    * the *height* is :math:`\epsilon_g` at the flattest output time ``t_flat`` of the plateau (smallest
      :math:`|\sigma|`: the closest approach to the saddle point the plateau is made of);
    * the *escape time* is the first time after ``t_flat`` at which :math:`\epsilon_g` has fallen a fraction
      ``escape_fraction`` below the height, :math:`\epsilon_g \le (1 - f)\,\text{height}` (linear
      interpolation of :math:`\epsilon_g` in :math:`\ln t`).

    The resolution of every time is the output grid: use dense (log-spaced) output times.

    Attributes
    ----------
    status : str
        ``"escaped"`` (plateau and escape found), ``"no_escape"`` (the curve is still above
        ``(1 - f) height`` at its end) or ``"no_plateau"``. Undefined numbers are NaN, never a guess.
    message : str
        What was found, or why not.
    threshold, min_span, escape_fraction, window : float
        The parameters of the definitions above.
    t_start, t_end, length, t_flat, height : float
        The plateau (NaN without one).
    escape_time : float
        The escape time (NaN without one).
    height_se, escape_time_se : float
        Standard errors over seeds for an average of SGD runs (:meth:`SGDAverage.plateau`); NaN for a single
        curve.
    runs : int
        Number of runs behind the curve (1 for a single trajectory).
    """

    status: str
    message: str
    threshold: float
    min_span: float
    escape_fraction: float
    window: float
    t_start: float = np.nan
    t_end: float = np.nan
    length: float = np.nan
    t_flat: float = np.nan
    height: float = np.nan
    escape_time: float = np.nan
    height_se: float = np.nan
    escape_time_se: float = np.nan
    runs: int = 1

    @property
    def found(self) -> bool:
        """Whether a plateau was found."""
        return self.status in ("escaped", "no_escape")

    @property
    def escaped(self) -> bool:
        """Whether the escape was found too."""
        return self.status == "escaped"

    @property
    def converged(self) -> bool:
        """Whether every number of the analysis is defined (plateau and escape found): ``status == "escaped"``."""
        return self.escaped

    def to_dict(self) -> dict:
        """Flat, one row: every field as a length-1 list (``pandas.DataFrame(p.to_dict())`` works)."""
        d = {f.name: [getattr(self, f.name)] for f in fields(self)}
        d["converged"] = [self.converged]
        return d


def _crossing(x0: float, x1: float, y0: float, y1: float, level: float) -> float:
    """``x`` where the line through ``(x0, y0)``, ``(x1, y1)`` reaches ``level`` (``x1`` if flat)."""
    if y1 == y0:
        return x1
    return x0 + (level - y0) * (x1 - x0) / (y1 - y0)


def _escape_log_time(x: np.ndarray, eps: np.ndarray, k: int, level: float) -> float:
    """``x`` (``ln t``) of the first time ``>= x[k]`` at which ``eps`` (linear in ``x`` between output times) is
    ``<= level``: ``x[k]`` itself if ``eps[k] <= level`` already, NaN if ``eps`` stays above ``level``.

    The crossing is interpolated inside the first interval ``(x[e-1], x[e]]`` with ``e > k`` that ends at or
    below the level, where ``eps[e-1] > level >= eps[e]``: it lies in that interval and never divides by zero.
    """
    if eps[k] <= level:
        return float(x[k])
    below = np.flatnonzero(eps[k + 1:] <= level)
    if below.size == 0:
        return float("nan")
    e = k + 1 + int(below[0])
    return float(_crossing(x[e - 1], x[e], eps[e - 1], eps[e], level))


def _local_slope(x: np.ndarray, y: np.ndarray, half: float) -> np.ndarray:
    """Least-squares slope of ``y`` on ``x`` over ``|x_i - x_j| <= half`` (at least the neighbours), for every j."""
    n = x.size
    j = np.arange(n)
    lo = np.minimum(np.searchsorted(x, x - half, side="left"), np.maximum(j - 1, 0))
    hi = np.maximum(np.searchsorted(x, x + half, side="right"), np.minimum(j + 2, n))  # exclusive
    xc = x - x.mean()  # centred: the sums below lose no precision
    cs = [np.concatenate([[0.0], np.cumsum(v)]) for v in (np.ones(n), xc, y, xc * xc, xc * y)]
    m, sx, sy, sxx, sxy = (c[hi] - c[lo] for c in cs)
    return (m * sxy - sx * sy) / (m * sxx - sx * sx)


def find_plateau(t, eps_g, *, threshold: float = PLATEAU_THRESHOLD, min_span: float = PLATEAU_MIN_SPAN,
                 escape_fraction: float = ESCAPE_FRACTION, window: float = SLOPE_WINDOW) -> Plateau:
    r"""Plateau height, length and escape time of a learning curve :math:`\epsilon_g(t)`; see :class:`Plateau`.

    Parameters
    ----------
    t : array_like, shape (n,)
        Output times, strictly increasing (``t = 0`` allowed and ignored). Log-spaced times resolve a
        plateau best.
    eps_g : array_like, shape (n,)
        The curve (finite, >= 0).
    threshold : float
        Flatness threshold on :math:`|d\ln\epsilon_g/d\ln t|` (default 0.05).
    min_span : float
        Minimal ``t_end / t_start`` of a plateau (default 2, i.e. a factor 2 in time); shorter flat
        stretches (an inflection point) are skipped.
    escape_fraction : float
        ``f`` in :math:`\epsilon_g \le (1-f)\,\text{height}` (default 0.5).
    window : float
        Width (a factor in time, >= 1) of the window of the local-exponent fit (default 2).

    Returns
    -------
    Plateau

    Examples
    --------
    A synthetic curve: descent to 0.1, flat up to t ~ 100, then a fall to 0.

    >>> import numpy as np
    >>> from dynamics.trajectory import find_plateau
    >>> t = np.logspace(-1, 3, 200)
    >>> eps = 0.1 + 0.4 * np.exp(-t) - 0.1 * (1 - np.exp(-(t / 150.0) ** 4))
    >>> p = find_plateau(t, eps)
    >>> p.status, round(p.height, 4), bool(100 < p.escape_time < 150)
    ('escaped', 0.1, True)
    """
    t = checks.grid("t", t, low=0.0)
    eps = checks.vector("eps_g", eps_g, size=t.size)
    threshold = checks.real("threshold", threshold, low=0.0, low_open=True)
    min_span = checks.real("min_span", min_span, low=1.0)
    escape_fraction = checks.real("escape_fraction", escape_fraction, low=0.0, high=1.0, low_open=True,
                                  high_open=True)
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    window = checks.real("window", window, low=1.0)
    params = dict(threshold=threshold, min_span=min_span, escape_fraction=escape_fraction, window=window)
    pos = t > 0
    t, eps = t[pos], eps[pos]
    if t.size < 3:
        return Plateau("no_plateau", "fewer than 3 output times t > 0", **params)
    x = np.log(t)
    # eps_g = 0 (perfect learning; or -1e-17 from round-off) enters ln as the smallest positive float: steep.
    sigma = np.abs(_local_slope(x, np.log(np.maximum(eps, np.finfo(float).tiny)), 0.5 * np.log(window)))
    steep = np.flatnonzero(sigma >= threshold)
    if steep.size == 0:
        return Plateau("no_plateau", f"no initial descent: |d ln eps_g / d ln t| < {threshold:g} everywhere",
                       **params)
    flat = sigma < threshold
    j = int(steep[0])
    while j < t.size:
        flat_after = np.flatnonzero(flat[j:])
        if flat_after.size == 0:
            break
        a = j + int(flat_after[0])  # first flat index of a run
        steep_after = np.flatnonzero(~flat[a:])
        b = a + int(steep_after[0]) - 1 if steep_after.size else t.size - 1  # last flat index of the run
        lo = np.exp(_crossing(x[a - 1], x[a], sigma[a - 1], sigma[a], threshold))
        hi = t[b] if b == t.size - 1 else np.exp(_crossing(x[b], x[b + 1], sigma[b], sigma[b + 1], threshold))
        if hi / lo >= min_span:
            k = a + int(np.argmin(sigma[a: b + 1]))
            height = float(eps[k])
            plateau = dict(t_start=float(lo), t_end=float(hi), length=float(hi - lo), t_flat=float(t[k]),
                           height=height)
            level = (1.0 - escape_fraction) * height
            x_escape = _escape_log_time(x, eps, k, level)
            if np.isnan(x_escape):
                return Plateau("no_escape", f"plateau at eps_g = {height:.6g} from t = {lo:.6g} to {hi:.6g}; "
                               f"eps_g stays above {level:.6g} up to t = {t[-1]:.6g}", **params, **plateau)
            escape = float(np.exp(x_escape))
            return Plateau("escaped", f"plateau at eps_g = {height:.6g} from t = {lo:.6g} to {hi:.6g}; escape "
                           f"(eps_g <= {level:.6g}) at t = {escape:.6g}", **params, **plateau, escape_time=escape)
        j = b + 1
    return Plateau("no_plateau", f"no interval after the initial descent where |d ln eps_g / d ln t| < "
                   f"{threshold:g} over a factor {min_span:g} in time", **params)


@dataclass(frozen=True, eq=False)
class Trajectory:
    r"""Order parameters and generalisation error along one run of the ODEs or of online SGD.

    Time is :math:`t = \text{steps}/N`. ``eps_g`` is :math:`\frac12 E(\hat y - y)^2`: it carries a
    **1/2** (the online-SGD convention), unlike the replica regression error.

    Attributes
    ----------
    t : numpy.ndarray, shape (n,)
        Output times.
    eps_g : numpy.ndarray, shape (n,)
        Generalisation error (with the 1/2) from the order parameters, theory §4.5.
    Q : numpy.ndarray, shape (n, K, K)
        Student-student overlaps.
    R : numpy.ndarray, shape (n, K, M)
        Student-teacher overlaps.
    v : numpy.ndarray, shape (n, K)
        Student second-layer weights.
    T : numpy.ndarray, shape (M, M)
        Teacher-teacher overlaps (constant).
    A : numpy.ndarray, shape (M,)
        Teacher second-layer weights (constant).
    source : str
        ``"ode"`` or ``"sgd"``.
    method : str
        Integrator (``"euler"``, ``"rk4"``, ``"adaptive"``) or ``"online-sgd"``.
    status : str
        ``"completed"``; ``"failed"`` if the run stopped early (then ``t`` ends at the last valid time and
        ``message`` says why; a failed run never reports values past the failure); or, for ODE runs,
        ``"learned"`` if it stopped because the student reproduced the teacher to round-off
        (:func:`dynamics.integrate`).
    message : str
        Human-readable status.
    eps_g_mc, eps_g_mc_err : numpy.ndarray or None, shape (n,)
        For SGD runs: Monte Carlo estimate (with the 1/2) on fresh test samples and its standard error.
    info : dict
        Run parameters (``N``, ``delta``, ``eta``, ``activation``, bins, step size, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from dynamics import Setup, Student, integrate
    >>> N = 20
    >>> student = Student.random(K=2, N=N, seed=0)
    >>> setup = Setup.from_weights(student.w, student.v, np.ones((1, N)), [1.0], omega=np.eye(N),
    ...                            phi=np.eye(N), eta=0.5)
    >>> traj = integrate(setup, 1.0, times=[0.0, 1.0], method="rk4")
    >>> traj.source, traj.status, traj.Q.shape, traj.R.shape
    ('ode', 'completed', (2, 2, 2), (2, 2, 1))
    >>> sorted(traj.columns())[:4]
    ['Q_0_0', 'Q_0_1', 'Q_1_1', 'R_0_0']
    """

    t: np.ndarray
    eps_g: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    v: np.ndarray
    T: np.ndarray
    A: np.ndarray
    source: str
    method: str
    status: str = "completed"
    message: str = ""
    eps_g_mc: np.ndarray | None = None
    eps_g_mc_err: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("t", "eps_g", "Q", "R", "v", "T", "A", "eps_g_mc", "eps_g_mc_err"):
            value = getattr(self, name)
            if value is not None:
                arr = np.array(value, dtype=float)
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)

    @property
    def K(self) -> int:
        """Student hidden units."""
        return self.Q.shape[-1]

    @property
    def M(self) -> int:
        """Teacher hidden units."""
        return self.T.shape[-1]

    @property
    def converged(self) -> bool:
        """Whether the run ended normally: it reached its final time (``"completed"``) or an ODE run stopped at
        perfect learning (``"learned"``, :func:`dynamics.integrate`). Not whether ``eps_g`` has converged."""
        return self.status in ("completed", "learned")

    def to_dict(self) -> dict:
        """Flat, ``pandas.DataFrame(traj.to_dict())``-ready: one row per output time, equal-length columns.

        The time series of :meth:`columns` (``t``, ``eps_g``, ``Q_k_l``, ``R_k_m``, ``v_k``, Monte Carlo columns
        for SGD), the constants ``T_m_n`` and ``A_m``, and the scalars ``source``, ``method``, ``status``,
        ``converged``, ``message``, ``eps_g_convention`` and every ``info`` entry, repeated on every row.
        """
        cols = self.columns()
        n = self.t.size
        for m in range(self.M):
            for k in range(m, self.M):
                cols[f"T_{m}_{k}"] = np.full(n, self.T[m, k])
        for m in range(self.M):
            cols[f"A_{m}"] = np.full(n, self.A[m])
        scalars = {"source": self.source, "method": self.method, "status": self.status,
                   "converged": self.converged, "message": self.message, "eps_g_convention": EPS_G_NOTE,
                   **{k: v for k, v in self.info.items() if k not in cols}}
        for key, value in scalars.items():
            cols[key] = [value] * n
        return cols

    def plateau(self, *, threshold: float = PLATEAU_THRESHOLD, min_span: float = PLATEAU_MIN_SPAN,
                escape_fraction: float = ESCAPE_FRACTION, window: float = SLOPE_WINDOW) -> Plateau:
        """Plateau height and length and escape time of ``eps_g(t)``: :func:`find_plateau` (definitions in
        :class:`Plateau`).

        Examples
        --------
        Saad & Solla's K = M = 2 soft committee machine from a nearly unspecialised start:

        >>> import numpy as np
        >>> from dynamics import Setup, default_times, integrate
        >>> setup = Setup.from_overlaps(0.1 * np.eye(2), 1e-3 * np.array([[1.0, 0.4], [0.3, 0.9]]), np.eye(2),
        ...                             [1.0, 1.0], [1.0, 1.0], eta=0.1, train_second_layer=False)
        >>> p = integrate(setup, 3000.0, times=default_times(3000.0), bins=1).plateau()
        >>> p.status, round(p.height, 3)   # the symmetric saddle: 0.0121 at eta = 0.1, 0.0116 as eta -> 0
        ('escaped', 0.012)
        """
        return find_plateau(self.t, self.eps_g, threshold=threshold, min_span=min_span,
                            escape_fraction=escape_fraction, window=window)

    def columns(self) -> dict[str, np.ndarray]:
        """Time series as named columns: ``t``, ``eps_g``, ``Q_k_l``, ``R_k_m``, ``v_k`` (and MC columns)."""
        cols: dict[str, np.ndarray] = {"t": self.t, "eps_g": self.eps_g}
        if self.eps_g_mc is not None:
            cols["eps_g_mc"] = self.eps_g_mc
            cols["eps_g_mc_err"] = self.eps_g_mc_err
        K, M = self.K, self.M
        for k in range(K):
            for l in range(k, K):
                cols[f"Q_{k}_{l}"] = self.Q[:, k, l]
        for k in range(K):
            for m in range(M):
                cols[f"R_{k}_{m}"] = self.R[:, k, m]
        for k in range(K):
            cols[f"v_{k}"] = self.v[:, k]
        return cols

    def to_csv(self, path: str | os.PathLike, *, metadata: dict | None = None) -> None:
        """Write the time series of :meth:`columns` as CSV under a header row (floats round-trip exactly); the
        sidecar ``path-metadata.json`` (:mod:`gaussequiv.tables`) states the source, method, status and message,
        the eps_g 1/2 convention, ``info`` and ``metadata``."""
        from gaussequiv.tables import write_csv

        write_csv(path, self.columns(), {"source": self.source, "method": self.method, "status": self.status,
                                         "converged": self.converged, "message": self.message,
                                         "eps_g_convention": EPS_G_NOTE, "info": self.info, **(metadata or {})})

    def to_npz(self, path: str | os.PathLike) -> None:
        """Write every array, the string metadata and ``info`` (as JSON) to ``path`` (.npz, no pickles)."""
        arrays = {k: getattr(self, k) for k in ("t", "eps_g", "Q", "R", "v", "T", "A", "eps_g_mc", "eps_g_mc_err")
                  if getattr(self, k) is not None}
        meta = {k: np.array(getattr(self, k)) for k in ("source", "method", "status", "message")}
        np.savez(path, **arrays, **meta, eps_g_convention=np.array(EPS_G_NOTE),
                 info=np.array(json.dumps(self.info, default=float)))

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> Trajectory:
        """Read a trajectory written by :meth:`to_npz` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as z:
            get = {k: z[k] for k in z.files}
        optional = {k: get.get(k) for k in ("eps_g_mc", "eps_g_mc_err")}
        return cls(t=get["t"], eps_g=get["eps_g"], Q=get["Q"], R=get["R"], v=get["v"], T=get["T"], A=get["A"],
                   source=str(get["source"]), method=str(get["method"]), status=str(get["status"]),
                   message=str(get["message"]), info=json.loads(str(get["info"])), **optional)

    def plot(self, path: str | os.PathLike | None = None, *, ax=None, label: str | None = None, **kwargs):
        """Plot ``eps_g(t)`` (with the 1/2) on log-log axes; Monte Carlo error bars for SGD runs.

        Parameters
        ----------
        path : path-like, optional
            If given, save the figure there.
        ax : matplotlib Axes, optional
            Axes to draw on (e.g. to overlay ODE and SGD); a new figure if omitted.
        label : str, optional
            Legend label; defaults to the source and method.
        **kwargs
            Passed to ``Axes.plot``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = _eps_g_axes(ax)
        positive = self.t > 0
        label = label or f"{self.source} ({self.method})"
        if self.eps_g_mc is not None:
            ax.errorbar(self.t[positive], self.eps_g_mc[positive], yerr=self.eps_g_mc_err[positive], fmt="o",
                        ms=3, alpha=0.6, label=f"{label}, Monte Carlo")
        ax.plot(self.t[positive], self.eps_g[positive], label=label, **kwargs)
        return _finish_eps_g_plot(ax, path)


def _eps_g_axes(ax=None):
    """``ax``, or a new figure's axes sized for an ``eps_g(t)`` plot (matplotlib imported only here)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5.5, 4))
    return ax


def _finish_eps_g_plot(ax, path=None):
    """The axes every ``eps_g(t)`` plot shares (log-log, ``t = steps/N``, ``eps_g`` with its 1/2, legend); saved
    to ``path`` if given. Returns ``ax``."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("t = steps / N")
    ax.set_ylabel(r"$\epsilon_g = \frac{1}{2}E(\hat y - y)^2$")
    ax.legend(fontsize=8)
    if path is not None:
        ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=120)
    return ax
