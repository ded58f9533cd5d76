r"""One-pass (online) SGD of a two-layer network on generator samples (theory §4.1), measured like the ODEs."""

from __future__ import annotations

import numbers
import time as _time

import numpy as np

from dynamics.integrals import generalisation_error, get_activation
from dynamics.ode import _blas_single, _check_times, _progress
from dynamics.setup import Student, _check_teacher_activation, _matrix, _positive_float, _teacher_weights
from dynamics.trajectory import Trajectory

__all__ = ["simulate_sgd", "spawn_seeds"]

#: Generator activations that are odd functions: a bias-free network of them has E[G(c)] = 0 exactly.
_ODD_ACTIVATIONS = ("sign", "erf", "tanh")


def spawn_seeds(seed, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seed sequences of ``seed`` (int, SeedSequence or ``numpy.random.Generator``).

    Examples
    --------
    >>> from dynamics.sgd import spawn_seeds
    >>> a, b = spawn_seeds(0, 2)
    >>> a.entropy == b.entropy, a.spawn_key, b.spawn_key
    (True, (0,), (1,))
    """
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    elif isinstance(seed, np.random.Generator):
        root = np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}")
        root = np.random.SeedSequence(int(seed))
    else:
        raise TypeError(f"seed must be an int, a numpy.random.Generator or a SeedSequence, got "
                        f"{type(seed).__name__} (pass an explicit seed: runs must be reproducible)")
    return root.spawn(n)


def _generator_mean(generator, mean) -> np.ndarray:
    N = generator.output_dim
    if mean is not None:
        mean = np.asarray(mean, dtype=float)
        if mean.shape != (N,) or not np.all(np.isfinite(mean)):
            raise ValueError(f"mean must be a finite array of shape ({N},) (the generator's output mean)")
        return mean
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

    if isinstance(generator, SingleLayer) and generator.activation in ("sign", "erf"):
        omega, phi = single_layer_covariances(generator.weights, generator.activation)
        return omega, phi, f"exact ({generator.activation} single layer, theory §3.4)"
    raise ValueError(
        f"omega and phi are required for generator {generator!r}: exact covariances exist only for sign and erf "
        "single-layer generators. Pass omega=, phi= (e.g. from spectra.estimate_covariances)"
    )


def simulate_sgd(
    generator,
    teacher,
    student: Student,
    eta: float,
    t_max: float,
    *,
    seed,
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
    seed : int, numpy.random.Generator or SeedSequence
        Seed of the training and test draws (two independent child streams).
    n_test : int
        Test samples for the Monte Carlo error.
    omega, phi : array_like, optional
        :math:`\Omega` (N, N) and :math:`\Phi = E[xc^\top]` (N, D) for the order parameters. Default: the
        exact covariances of a sign or erf :class:`~spectra.generators.SingleLayer`; required otherwise.
    mean : array_like, optional
        Output mean :math:`\mu` subtracted from every sample. Default: zero for bias-free generators with an
        odd activation (exact); required otherwise.
    times : array_like, optional
        Output times; rounded to whole steps (duplicates dropped). Default: :func:`default_times`.
    batch_size : int
        Samples generated per call to ``generator`` (the SGD itself is sequential).
    progress : bool, optional
        Show a tqdm progress bar (default: only for long runs on a terminal).

    Returns
    -------
    Trajectory
        ``source == "sgd"``; ``eps_g`` from the measured order parameters, ``eps_g_mc`` and ``eps_g_mc_err``
        from the test set. If the weights become non-finite the run stops with ``status == "failed"``.

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
    if not isinstance(student, Student):
        raise TypeError(f"student must be a dynamics.Student, got {type(student).__name__}")
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
    eta = _positive_float("eta", eta)
    t_max, times = _check_times(t_max, times)
    if isinstance(n_test, bool) or not isinstance(n_test, numbers.Integral) or n_test < 2:
        raise ValueError(f"n_test must be an integer >= 2, got {n_test!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    train_seq, test_seq = spawn_seeds(seed, 2)
    mu = _generator_mean(generator, mean)
    if omega is None and phi is None:
        omega, phi, cov_source = _default_covariances(generator)
    elif omega is None or phi is None:
        raise ValueError("pass both omega and phi, or neither (exact covariances of a single-layer generator)")
    else:
        cov_source = "given"
    omega = _matrix("omega", omega, (N, N))
    phi = _matrix("phi", phi, (N, D))

    act = get_activation(student.activation)
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

    def record(step: int) -> None:
        rec_t.append(step / N)
        rec_Q.append(W @ omega @ W.T / N)
        rec_R.append(W @ phiBt)
        rec_v.append(v.copy())
        err = 0.5 * (g(x_test @ W.T / sqrt_n) @ v - y_test) ** 2
        rec_mc.append(err.mean())
        rec_err.append(err.std(ddof=1) / np.sqrt(err.size))

    bar = _progress(progress, n_steps / N, n_steps * N * student.K * 4.0, desc="online SGD")
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
                    if not (np.isfinite(W).all() and np.isfinite(v).all()):
                        status, message = "failed", f"weights became non-finite by t = {step / N:.6g}"
                        break
                    record(step)
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
            "activation": student.activation, "train_second_layer": train_v, "n_test": int(n_test),
            "covariances": cov_source, "steps": step, "wall_time_s": elapsed,
            "steps_per_s": step / elapsed if elapsed > 0 else float("nan")}
    return Trajectory(t=np.array(rec_t), eps_g=eps, Q=Q, R=R, v=V, T=T, A=A, source="sgd", method="online-sgd",
                      status=status, message=message, eps_g_mc=np.array(rec_mc), eps_g_mc_err=np.array(rec_err),
                      info=info)
