r"""One-pass (online) SGD of a two-layer network on generator samples (theory §4.1), measured like the ODEs."""

from __future__ import annotations

import os
import time as _time
from dataclasses import dataclass, field

import numpy as np

from dynamics.integrals import gaussian_integrals, generalisation_error
from dynamics.ode import _blas_single, _check_times, _progress
from dynamics.setup import IsotropicInputs, Student, _array, _check_teacher_activation, _teacher_weights
from dynamics.trajectory import (
    EPS_G_NOTE,
    ESCAPE_FRACTION,
    PLATEAU_MIN_SPAN,
    PLATEAU_THRESHOLD,
    SLOPE_WINDOW,
    Plateau,
    Trajectory,
    _eps_g_axes,
    _escape_log_time,
    _finish_eps_g_plot,
    find_plateau,
)
from gaussequiv import checks, seeding

__all__ = ["SGDAverage", "simulate_sgd", "simulate_sgd_seeds"]

#: Generator activations that are odd functions: a bias-free network of them has E[G(c)] = 0 exactly.
_ODD_ACTIVATIONS = ("sign", "erf", "erf_sqrt2", "tanh")


def _generator_mean(generator, mean) -> np.ndarray:
    N = generator.output_dim
    if mean is not None:
        return checks.vector("mean", mean, size=N)
    if isinstance(generator, IsotropicInputs):
        return generator.mean
    from spectra.generators import DeepRandom, SingleLayer

    if isinstance(generator, SingleLayer | DeepRandom) and generator.activation in _ODD_ACTIVATIONS:
        return np.zeros(N)  # a bias-free network of odd activations is an odd map: E[G(c)] = 0 exactly
    raise ValueError(
        f"mean is required for generator {generator!r}: its outputs are not centred by symmetry. Pass the "
        "mean estimated together with omega and phi (spectra.estimate_covariances), theory §1.1"
    )


def _default_covariances(generator) -> tuple[np.ndarray, np.ndarray, str]:
    from spectra.analytic import single_layer_covariances
    from spectra.generators import SingleLayer

    if isinstance(generator, IsotropicInputs):
        return generator.omega, generator.phi, "exact (isotropic inputs x = c)"
    if isinstance(generator, SingleLayer) and generator.activation in ("sign", "erf"):
        omega, phi = single_layer_covariances(generator.weights, generator.activation)
        return omega, phi, f"exact ({generator.activation} single layer, theory §3.4)"
    raise ValueError(
        f"omega and phi are required for generator {generator!r}: exact covariances exist only for sign and erf "
        "single-layer generators and isotropic inputs. Pass omega=, phi= (e.g. from spectra.estimate_covariances)"
    )


def simulate_sgd(
    generator,
    teacher,
    student: Student,
    eta: float,
    t_max: float,
    *,
    seed: seeding.SeedLike,
    n_test: int = 10_000,
    omega=None,
    phi=None,
    mean=None,
    times=None,
    batch_size: int = 1024,
    progress: bool | None = None,
) -> Trajectory:
    r"""Run one-pass SGD of a two-layer student on generator data and measure it along the way.

    Each step draws a fresh latent :math:`c \sim N(0, I_D)`, input :math:`x = G(c) - \mu` and label
    :math:`y = \sum_m A_m g(\nu_m)` from ``teacher``, and updates (theory §4.1)

    .. math::

        w_k \leftarrow w_k + \frac{\eta}{\sqrt N}\delta_k x,\qquad
        v_k \leftarrow v_k - \frac{\eta}{N}\Delta\, g(\lambda_k),\qquad
        \delta_k = -v_k g'(\lambda_k)\Delta,\quad \Delta = \hat y - y,

    with time :math:`t = \text{steps}/N`. At each output time it records the order parameters
    :math:`Q = W\Omega W^\top/N`, :math:`R = W\Phi B^\top/\sqrt{ND}` (the same :math:`\Omega`, :math:`\Phi`
    the ODEs use), ``eps_g`` from them (theory §4.5), and a Monte Carlo ``eps_g_mc`` with standard error on
    ``n_test`` fresh test samples (drawn once, independent of the training stream). Both carry the **1/2**:
    :math:`\epsilon_g = \frac12 E(\hat y - y)^2`.

    Parameters
    ----------
    generator : spectra.generators.Generator
        Maps latents ``(n, D)`` to raw outputs ``(n, N)``.
    teacher : spectra.teachers.CommitteeTeacher
        Committee teacher on the latent, with the same activation as the student.
    student : Student
        Initial student (not modified).
    eta : float
        Learning rate.
    t_max : float
        Final time (``round(t_max N)`` steps).
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the training and test draws: the ``"sgd-train"`` and ``"sgd-test"`` streams of
        ``gaussequiv.seeding``, independent of each other and of the student, teacher and generator drawn
        from the same seed.
    n_test : int
        Test samples for the Monte Carlo error.
    omega, phi : array_like, optional
        :math:`\Omega` (N, N) and :math:`\Phi = E[xc^\top]` (N, D) for the order parameters. Default: the
        exact covariances of a sign or erf :class:`~spectra.generators.SingleLayer` or of
        :class:`IsotropicInputs`; required otherwise.
    mean : array_like, optional
        Output mean :math:`\mu` subtracted from every sample. Default: zero for bias-free generators with an
        odd activation (exact); required otherwise.
    times : array_like, optional
        Output times; rounded to whole steps (duplicates dropped). Default: :func:`default_times`. Pass
        ``default_times(t_max, N=N)`` (already on the step grid) to the ODE and here, and the outputs align.
    batch_size : int
        Samples generated per call to ``generator`` (the SGD itself is sequential).
    progress : bool or None
        Show a tqdm bar over simulated time. None (default): only on a terminal or in a notebook
        (:func:`gaussequiv.progress.show`), and there only once the run has lasted 3 s.

    Returns
    -------
    Trajectory
        ``source == "sgd"``; ``eps_g`` from the measured order parameters, ``eps_g_mc`` and ``eps_g_mc_err``
        from the test set. If the weights diverge (the order parameters or the test error are no longer
        finite) the run stops with ``status == "failed"`` and reports nothing past the last finite record.

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.generators import SingleLayer
    >>> from spectra.teachers import CommitteeTeacher
    >>> from dynamics import Student, simulate_sgd
    >>> gen = SingleLayer(D=10, N=40, activation="sign", seed=0)
    >>> teacher = CommitteeTeacher.random(M=2, D=10, seed=1)
    >>> student = Student.random(K=2, N=40, seed=2)
    >>> sim = simulate_sgd(gen, teacher, student, eta=0.5, t_max=2.0, seed=3, n_test=500, times=[0, 1, 2])
    >>> sim.t.tolist(), sim.eps_g_mc.shape
    ([0.0, 1.0, 2.0], (3,))
    """
    args = _resolve(generator, teacher, student, eta, t_max, times, n_test, batch_size, omega, phi, mean)
    return _run(*args, seed=seed, progress=progress)


def _resolve(generator, teacher, student, eta, t_max, times, n_test, batch_size, omega, phi, mean) -> tuple:
    """Validate the arguments of :func:`simulate_sgd` and resolve the defaults (covariances, mean) once."""
    checks.instance("student", student, Student)
    for attr in ("latent_dim", "output_dim"):
        if not hasattr(generator, attr) or not callable(generator):
            raise TypeError(f"generator must be a spectra generator (callable with latent_dim and output_dim), "
                            f"got {type(generator).__name__}")
    N, D = generator.output_dim, generator.latent_dim
    if student.N != N:
        raise ValueError(f"student.w must have N = generator.output_dim = {N} columns, got {student.N}")
    B, A = _teacher_weights(teacher)
    if B.shape[1] != D:
        raise ValueError(f"teacher.B must have D = generator.latent_dim = {D} columns, got {B.shape[1]}")
    _check_teacher_activation(teacher, student.activation)
    eta = checks.real("eta", eta, low=0.0, low_open=True)
    t_max, times = _check_times(t_max, times)
    n_test = checks.integer("n_test", n_test, minimum=2)
    batch_size = checks.integer("batch_size", batch_size)
    mu = _generator_mean(generator, mean)
    if omega is None and phi is None:
        omega, phi, cov_source = _default_covariances(generator)
    elif omega is None or phi is None:
        raise ValueError("pass both omega and phi, or neither (exact covariances of a single-layer generator)")
    else:
        cov_source = "given"
    omega = _array("omega", omega, (N, N))
    phi = _array("phi", phi, (N, D))
    return generator, teacher, student, B, A, eta, times, n_test, batch_size, omega, phi, mu, cov_source


def _run(generator, teacher, student, B, A, eta, times, n_test, batch_size, omega, phi, mu, cov_source, *, seed,
         progress) -> Trajectory:
    """One SGD run on resolved arguments (:func:`_resolve`)."""
    N, D = generator.output_dim, generator.latent_dim
    root = seeding.seed_sequence(seed)
    train_seq, test_seq = seeding.stream(root, "sgd-train"), seeding.stream(root, "sgd-test")

    act = gaussian_integrals(student.activation)
    g, dg = act.g, act.dg
    steps = np.unique(np.rint(times * N).astype(np.int64))
    n_steps = int(steps[-1])

    # Fresh test set, independent of the training stream.
    rng_test = np.random.default_rng(test_seq)
    c_test = rng_test.standard_normal((int(n_test), D))
    x_test = np.asarray(generator(c_test), dtype=float) - mu
    y_test = np.asarray(teacher(c_test), dtype=float)
    phiBt = phi @ B.T / np.sqrt(N * D)

    W = np.array(student.w, dtype=float)
    v = np.array(student.v, dtype=float)
    train_v = student.train_second_layer
    lr_w, lr_v, sqrt_n = eta / np.sqrt(N), eta / N, np.sqrt(N)
    rng = np.random.default_rng(train_seq)

    rec_t, rec_Q, rec_R, rec_v, rec_mc, rec_err = [], [], [], [], [], []

    def record(step: int) -> bool:
        """Append the measurements at ``step``; False (nothing appended) if any of them is not finite."""
        with np.errstate(over="ignore", invalid="ignore"):
            Q, R = W @ omega @ W.T / N, W @ phiBt
            err = 0.5 * (g(x_test @ W.T / sqrt_n) @ v - y_test) ** 2
            mc, mc_err = err.mean(), err.std(ddof=1) / np.sqrt(err.size)
        if not (np.isfinite(Q).all() and np.isfinite(R).all() and np.isfinite(v).all() and np.isfinite(mc_err)):
            return False
        rec_t.append(step / N)
        rec_Q.append(Q)
        rec_R.append(R)
        rec_v.append(v.copy())
        rec_mc.append(mc)
        rec_err.append(mc_err)
        return True

    bar = _progress(progress, n_steps / N, desc="online SGD")
    status, message = "completed", f"reached t = {n_steps / N:.6g} ({n_steps} steps)"
    start = _time.perf_counter()
    step, out = 0, 0
    while out < steps.size and steps[out] == 0:
        record(0)
        out += 1
    with _blas_single():
        while step < n_steps:
            n_batch = min(int(batch_size), n_steps - step)
            c = rng.standard_normal((n_batch, D))
            X = np.asarray(generator(c), dtype=float) - mu
            Y = np.asarray(teacher(c), dtype=float)
            for x, y in zip(X, Y, strict=True):
                lam = W @ x / sqrt_n
                g_lam = g(lam)
                delta = v @ g_lam - y
                if train_v:
                    v_old = v.copy()
                    v -= lr_v * delta * g_lam
                else:
                    v_old = v
                W += np.outer((-lr_w * delta) * v_old * dg(lam), x)
                step += 1
                if step == steps[out]:
                    if not record(step):
                        status, message = "failed", (f"the weights diverged by t = {step / N:.6g}: the order "
                                                     "parameters or the test error are no longer finite")
                        break
                    out += 1
            if status == "failed":
                break
            if bar is not None:
                bar.update(n_batch / N)
    if bar is not None:
        bar.close()
    elapsed = _time.perf_counter() - start
    n_out = len(rec_t)
    Q, R, V = np.array(rec_Q), np.array(rec_R), np.array(rec_v)
    T = B @ B.T / D
    eps = generalisation_error(Q, R, np.broadcast_to(T, (n_out, *T.shape)), V,
                               np.broadcast_to(A, (n_out, A.size)), student.activation)
    info = {"N": N, "D": D, "K": student.K, "M": B.shape[0], "delta": D / N, "eta": eta,
            "activation": student.activation, "activation_formula": act.formula,
            "train_second_layer": train_v, "n_test": int(n_test),
            "covariances": cov_source, "steps": step, "wall_time_s": elapsed,
            "steps_per_s": step / elapsed if elapsed > 0 else float("nan")}
    return Trajectory(t=np.array(rec_t), eps_g=eps, Q=Q, R=R, v=V, T=T, A=A, source="sgd", method="online-sgd",
                      status=status, message=message, eps_g_mc=np.array(rec_mc), eps_g_mc_err=np.array(rec_err),
                      info=info)


@dataclass(frozen=True, eq=False)
class SGDAverage:
    r"""Online SGD averaged over independent sample streams (:func:`simulate_sgd_seeds`): mean, standard error
    and per-seed curves of :math:`\epsilon_g(t)` (with the 1/2).

    Every run starts from the same student and teacher (so the ODE from that state is the prediction for each
    of them) and draws its own training and test samples. Standard errors are ``std(ddof=1) / sqrt(seeds)``
    over the runs.

    Attributes
    ----------
    t : numpy.ndarray, shape (n,)
        Output times (``steps / N``).
    eps_g_mean, eps_g_se : numpy.ndarray, shape (n,)
        Mean over runs of ``eps_g`` from the measured order parameters (theory §4.5) and its standard error.
    eps_g_runs : numpy.ndarray, shape (seeds, n)
        Per-run ``eps_g``.
    eps_g_mc_mean, eps_g_mc_se : numpy.ndarray, shape (n,)
        The same for the Monte Carlo test error on fresh samples.
    eps_g_mc_runs : numpy.ndarray, shape (seeds, n)
        Per-run Monte Carlo test error.
    runs : tuple of Trajectory
        The individual runs (``source == "sgd"``).
    status : str
        ``"completed"`` if every run reached ``t_max``, else ``"failed"``; then a failed run's values after its
        failure are NaN, and so are the mean and SE at those times (never an average of the survivors).
    message : str
        Human-readable status.
    info : dict
        Run parameters (from the first run) and ``seeds``.
    """

    t: np.ndarray
    eps_g_mean: np.ndarray
    eps_g_se: np.ndarray
    eps_g_runs: np.ndarray
    eps_g_mc_mean: np.ndarray
    eps_g_mc_se: np.ndarray
    eps_g_mc_runs: np.ndarray
    runs: tuple
    status: str
    message: str
    info: dict = field(default_factory=dict)

    @property
    def seeds(self) -> int:
        """Number of runs."""
        return len(self.runs)

    @property
    def converged(self) -> bool:
        """Whether every run reached its final time (``status == "completed"``)."""
        return self.status == "completed"

    def to_dict(self) -> dict:
        """Flat, ``pandas.DataFrame(avg.to_dict())``-ready: one row per output time, equal-length columns
        ``t``, ``eps_g_mean``, ``eps_g_se``, ``eps_g_mc_mean``, ``eps_g_mc_se``, per-run ``eps_g_seed_j`` and
        ``eps_g_mc_seed_j``, and the scalars ``status``, ``converged``, ``seeds``, ``eps_g_convention`` and the
        ``info`` entries repeated on every row."""
        n = self.t.size
        cols: dict = {"t": self.t, "eps_g_mean": self.eps_g_mean, "eps_g_se": self.eps_g_se,
                      "eps_g_mc_mean": self.eps_g_mc_mean, "eps_g_mc_se": self.eps_g_mc_se}
        for j in range(self.seeds):
            cols[f"eps_g_seed_{j}"] = self.eps_g_runs[j]
        for j in range(self.seeds):
            cols[f"eps_g_mc_seed_{j}"] = self.eps_g_mc_runs[j]
        scalars = {"status": self.status, "converged": self.converged, "message": self.message,
                   "eps_g_convention": EPS_G_NOTE, **self.info, "seeds": self.seeds}
        for key, value in scalars.items():
            cols[key] = [value] * n
        return cols

    def to_csv(self, path: str | os.PathLike, *, metadata: dict | None = None) -> None:
        """Write the columns of :meth:`to_dict` that vary with time as CSV under a header row; the sidecar
        ``path-metadata.json`` (:mod:`gaussequiv.tables`) holds the scalars (status, message, seeds, the eps_g
        1/2 convention, ``info``) and ``metadata``."""
        from gaussequiv.tables import write_csv

        d = self.to_dict()
        series = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
        scalars = {k: v[0] for k, v in d.items() if not isinstance(v, np.ndarray) and len(v)}
        write_csv(path, series, {"source": "sgd", **scalars, **(metadata or {})})

    def plateau(self, *, threshold: float = PLATEAU_THRESHOLD, min_span: float = PLATEAU_MIN_SPAN,
                escape_fraction: float = ESCAPE_FRACTION, window: float = SLOPE_WINDOW) -> Plateau:
        """Plateau and escape of the mean curve (:func:`~dynamics.trajectory.find_plateau`), with error bars.

        The plateau (``t_start``, ``t_end``, ``t_flat``, ``height``) is that of ``eps_g_mean``;
        ``height_se = eps_g_se`` at ``t_flat``. The escape time is the mean over runs of each run's escape
        time, every run measured against the same level ``(1 - escape_fraction) * height`` (its first time
        ``>= t_flat`` at or below the level, interpolated in ``ln t``: ``t_flat`` itself for a run already below
        the level there), with ``escape_time_se`` its standard error over runs. If a
        run never reaches the level, the status is ``"no_escape"`` and the escape time NaN (an average over
        the runs that escaped would be biased).
        """
        p = find_plateau(self.t, self.eps_g_mean, threshold=threshold, min_span=min_span,
                         escape_fraction=escape_fraction, window=window)
        if not p.found:
            return Plateau(**{**p.__dict__, "runs": self.seeds})
        k = int(np.flatnonzero(self.t == p.t_flat)[0])
        level = (1.0 - escape_fraction) * p.height
        x = np.log(np.where(self.t > 0, self.t, np.nan))
        escapes = np.exp([_escape_log_time(x, eps, k, level) for eps in self.eps_g_runs])
        common = {**p.__dict__, "runs": self.seeds, "height_se": float(self.eps_g_se[k])}
        if np.any(np.isnan(escapes)):
            n_esc = int(np.sum(~np.isnan(escapes)))
            return Plateau(**{**common, "status": "no_escape", "escape_time": np.nan,
                              "message": f"{p.message.split('; escape')[0]}; {n_esc} of {self.seeds} runs fell "
                                         f"below eps_g = {level:.6g} by t = {self.t[-1]:.6g}"})
        se = float(escapes.std(ddof=1) / np.sqrt(escapes.size))
        return Plateau(**{**common, "escape_time": float(escapes.mean()), "escape_time_se": se,
                          "message": f"{p.message.split('; escape')[0]}; escape (eps_g <= {level:.6g}) at "
                                     f"t = {escapes.mean():.6g} +- {se:.2g} (mean +- SE over {self.seeds} runs)"})

    def plot(self, path: str | os.PathLike | None = None, *, ax=None, label: str | None = None, runs: bool = True,
             **kwargs):
        """Plot the mean ``eps_g(t)`` (with the 1/2) with +-1 SE error bars, and the runs as thin lines.

        Parameters
        ----------
        path : path-like, optional
            If given, save the figure there.
        ax : matplotlib Axes, optional
            Axes to draw on (e.g. over an ODE trajectory); a new figure if omitted.
        label : str, optional
            Legend label of the mean (default ``"SGD mean of N runs"``).
        runs : bool
            Also draw every run.
        **kwargs
            Passed to ``Axes.errorbar``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = _eps_g_axes(ax)
        pos = self.t > 0
        if runs:
            for eps in self.eps_g_runs:
                ax.plot(self.t[pos], eps[pos], color="0.6", lw=0.5, alpha=0.6)
        ax.errorbar(self.t[pos], self.eps_g_mean[pos], yerr=self.eps_g_se[pos], fmt="o", ms=3, capsize=2,
                    label=label or f"SGD mean of {self.seeds} runs (+-1 SE)", **kwargs)
        return _finish_eps_g_plot(ax, path)


def simulate_sgd_seeds(
    generator,
    teacher,
    student: Student,
    eta: float,
    t_max: float,
    *,
    seeds: int,
    seed: seeding.SeedLike,
    n_test: int = 10_000,
    omega=None,
    phi=None,
    mean=None,
    times=None,
    batch_size: int = 1024,
    progress: bool | None = None,
) -> SGDAverage:
    r"""Online SGD (:func:`simulate_sgd`) repeated on ``seeds`` independent sample streams, averaged with error
    bars.

    Every run starts from the same ``student`` and ``teacher``, so the ODE from
    ``Setup.from_network(student, teacher, ...)`` is the prediction for each run and for their mean; the runs
    differ only in their training and test samples. Run ``j`` uses the stream ``"sgd-run-j"`` of ``seed``
    (``gaussequiv.seeding``): reproducible, independent across runs and of the objects built from the same
    seed, and the same whether ``seed`` is reused or not.

    Parameters
    ----------
    generator, teacher, student, eta, t_max
        As in :func:`simulate_sgd`.
    seeds : int
        Number of runs, >= 2 (standard errors need two).
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Root seed of the runs.
    n_test, omega, phi, mean, times, batch_size, progress
        As in :func:`simulate_sgd` (covariances and mean are resolved once and shared by the runs).

    Returns
    -------
    SGDAverage

    Examples
    --------
    >>> from spectra.teachers import CommitteeTeacher
    >>> from dynamics import IsotropicInputs, Student, simulate_sgd_seeds
    >>> avg = simulate_sgd_seeds(IsotropicInputs(30), CommitteeTeacher.random(2, 30, seed=1),
    ...                          Student.random(2, 30, seed=2), 0.5, 1.0, seeds=3, seed=0, n_test=200,
    ...                          times=[0.0, 0.5, 1.0])
    >>> avg.seeds, avg.eps_g_runs.shape, avg.status
    (3, (3, 3), 'completed')
    >>> bool(avg.eps_g_se[0] <= 1e-12 * avg.eps_g_mean[0])    # every run starts from the same student
    True
    """
    seeds = checks.integer("seeds", seeds, minimum=2)
    root = seeding.seed_sequence(seed)
    args = _resolve(generator, teacher, student, eta, t_max, times, n_test, batch_size, omega, phi, mean)
    runs = tuple(_run(*args, seed=seeding.stream(root, f"sgd-run-{j}"), progress=progress) for j in range(seeds))
    t = max((r.t for r in runs), key=len)
    n = t.size

    def stack(attr: str) -> np.ndarray:
        out = np.full((seeds, n), np.nan)
        for j, r in enumerate(runs):
            vals = getattr(r, attr)
            out[j, : vals.size] = vals
        return out

    eps, mc = stack("eps_g"), stack("eps_g_mc")
    failed = [j for j, r in enumerate(runs) if not r.converged]
    status = "failed" if failed else "completed"
    message = (f"{seeds} runs reached t = {t[-1]:.6g}" if not failed else
               "; ".join(f"run {j} {runs[j].message}" for j in failed))
    info = {k: v for k, v in runs[0].info.items() if k not in ("steps", "wall_time_s", "steps_per_s")}
    info["wall_time_s"] = float(sum(r.info["wall_time_s"] for r in runs))
    sqrt_n = np.sqrt(seeds)
    return SGDAverage(t=t, eps_g_mean=eps.mean(0), eps_g_se=eps.std(0, ddof=1) / sqrt_n, eps_g_runs=eps,
                      eps_g_mc_mean=mc.mean(0), eps_g_mc_se=mc.std(0, ddof=1) / sqrt_n, eps_g_mc_runs=mc, runs=runs,
                      status=status, message=message, info=info)
