"""The result object of :func:`dynamics.integrate` and :func:`dynamics.simulate_sgd`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Trajectory"]

EPS_G_NOTE = "eps_g = 1/2 E[(yhat - y)^2] (half mean squared error, with the 1/2)"


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
        ``"completed"``, or ``"failed"`` if the run stopped early (then ``t`` ends at the last valid time
        and ``message`` says why). A failed run never reports values past the failure.
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
    def success(self) -> bool:
        """Whether the run reached its final time."""
        return self.status == "completed"

    @property
    def K(self) -> int:
        """Student hidden units."""
        return self.Q.shape[-1]

    @property
    def M(self) -> int:
        """Teacher hidden units."""
        return self.T.shape[-1]

    def to_dict(self) -> dict:
        """Plain-dict view (arrays as numpy arrays)."""
        return {
            "t": self.t, "eps_g": self.eps_g, "Q": self.Q, "R": self.R, "v": self.v, "T": self.T, "A": self.A,
            "source": self.source, "method": self.method, "status": self.status, "message": self.message,
            "eps_g_mc": self.eps_g_mc, "eps_g_mc_err": self.eps_g_mc_err, "info": dict(self.info),
            "eps_g_convention": EPS_G_NOTE,
        }

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

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the time series as CSV; comment lines (``#``) state the source, status and the eps_g 1/2."""
        cols = self.columns()
        data = np.column_stack(list(cols.values()))
        header = "\n".join([
            f"source={self.source} method={self.method} status={self.status} {self.message}".rstrip(),
            EPS_G_NOTE,
            ",".join(cols),
        ])
        np.savetxt(path, data, delimiter=",", header=header, comments="# ", fmt="%.10g")

    def to_npz(self, path: str | os.PathLike) -> None:
        """Write every array, the string metadata and ``info`` (as JSON) to ``path`` (.npz, no pickles)."""
        d = self.to_dict()
        arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
        meta = {k: np.array(v) for k, v in d.items() if isinstance(v, str)}
        np.savez(path, **arrays, **meta, info=np.array(json.dumps(self.info, default=float)))

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
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5.5, 4))
        positive = self.t > 0
        label = label or f"{self.source} ({self.method})"
        if self.eps_g_mc is not None:
            ax.errorbar(self.t[positive], self.eps_g_mc[positive], yerr=self.eps_g_mc_err[positive], fmt="o",
                        ms=3, alpha=0.6, label=f"{label}, Monte Carlo")
        ax.plot(self.t[positive], self.eps_g[positive], label=label, **kwargs)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("t = steps / N")
        ax.set_ylabel(r"$\epsilon_g = \frac{1}{2}E(\hat y - y)^2$")
        ax.legend(fontsize=8)
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=120)
        return ax
