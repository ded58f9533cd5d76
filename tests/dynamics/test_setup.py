"""Setup and Student: state built from actual weights and covariances (theory §4.2, §4.6), bad inputs."""

import dataclasses

import numpy as np
import pytest

from dynamics import Setup, Student, integrate


def linear_problem(N=30, D=12, K=2, M=2, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((N, D)) / np.sqrt(D)
    omega = F @ F.T + 0.2 * np.eye(N)  # x = F c + noise
    return rng, F, omega, rng.standard_normal((K, N)), rng.standard_normal((M, D))


def test_order_parameters_from_projections_match_weights():
    """Q, R, T from the per-mode projections equal the direct forms w Omega w^T/N, w Phi B^T/sqrt(ND),
    B B^T/D of theory §4.2, and delta = D/N comes from the shapes."""
    rng, F, omega, w, B = linear_problem()
    N, D = F.shape
    setup = Setup.from_weights(w, [1.0, -0.5], B, [1.0, 1.0], omega=omega, phi=F, eta=0.3)
    assert setup.delta == D / N and setup.latent_dim == D and setup.N == N
    np.testing.assert_allclose(setup.Q, w @ omega @ w.T / N, rtol=1e-12)
    np.testing.assert_allclose(setup.R, w @ F @ B.T / np.sqrt(N * D), rtol=1e-12)
    np.testing.assert_allclose(setup.T, B @ B.T / D, rtol=1e-14)
    np.testing.assert_allclose(setup.T_tilde, B @ F.T @ F @ B.T / N, rtol=1e-12)
    d = setup.to_dict()
    assert d["delta"] == D / N and d["eps_g"] == setup.eps_g


def test_from_network_uses_student_and_teacher():
    """from_network reads B, A from a spectra committee teacher and the student's settings."""
    from spectra.teachers import CommitteeTeacher

    rng, F, omega, w, B = linear_problem()
    teacher = CommitteeTeacher(B, A=[0.5, 1.5])
    student = Student(w, [1.0, 2.0], train_second_layer=False)
    setup = Setup.from_network(student, teacher, omega=omega, phi=F, eta=0.1)
    np.testing.assert_array_equal(setup.A, [0.5, 1.5])
    assert setup.train_second_layer is False and setup.activation == "erf_sqrt2"


def test_teacher_activation_must_match_student():
    """A linear teacher with an erf(z/sqrt 2) student is refused (the theory needs one g)."""
    from spectra.teachers import CommitteeTeacher

    rng, F, omega, w, B = linear_problem()
    with pytest.raises(ValueError, match="share g"):
        Setup.from_network(Student(w, [1.0, 1.0]), CommitteeTeacher(B, activation="linear"), omega=omega,
                           phi=F, eta=0.1)


def test_setup_is_frozen():
    """Result/parameter objects are immutable."""
    rng, F, omega, w, B = linear_problem()
    setup = Setup.from_weights(w, [1.0, 1.0], B, [1.0, 1.0], omega=omega, phi=F, eta=0.3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.eta = 1.0
    with pytest.raises(ValueError):
        setup.eigenvalues[0] = 1.0


def _raw(**over):
    rng = np.random.default_rng(0)
    N, K, M = 6, 2, 2
    base = dict(eigenvalues=np.linspace(0.5, 2.0, N), student_proj=rng.standard_normal((K, N)),
                teacher_proj=0.1 * rng.standard_normal((M, N)), latent_dim=3, v=np.ones(K), A=np.ones(M),
                T=np.eye(M), eta=0.5)
    base.update(over)
    return base


@pytest.mark.parametrize(
    "over,exc,match",
    [
        ({"student_proj": np.zeros((0, 6))}, ValueError, "student_proj"),  # K < 1
        ({"teacher_proj": np.zeros((0, 6)), "A": np.zeros(0), "T": np.zeros((0, 0))}, ValueError, "teacher_proj"),
        ({"eta": 0.0}, ValueError, "eta"),
        ({"eta": -0.1}, ValueError, "eta"),
        ({"eta": float("nan")}, ValueError, "eta"),
        ({"eta": "0.1"}, TypeError, "eta"),
        ({"eigenvalues": np.linspace(0.5, 2.0, 5)}, ValueError, "student_proj"),  # lengths differ
        ({"teacher_proj": np.ones((2, 5))}, ValueError, "teacher_proj"),
        ({"eigenvalues": np.array([1, 1, np.nan, 1, 1, 1.0])}, ValueError, "eigenvalues"),
        ({"eigenvalues": np.array([1, 1, -1, 1, 1, 1.0])}, ValueError, "eigenvalues"),
        ({"student_proj": np.full((2, 6), np.inf)}, ValueError, "student_proj"),
        ({"v": np.ones(3)}, ValueError, "v"),
        ({"A": np.array([1.0, np.nan])}, ValueError, "A"),
        ({"T": np.array([[1.0, 2.0], [2.0, 1.0]])}, ValueError, "positive definite"),
        ({"T": np.array([[1.0, 0.5], [0.0, 1.0]])}, ValueError, "symmetric"),
        ({"latent_dim": 0}, ValueError, "latent_dim"),
        ({"latent_dim": 2.5}, TypeError, "latent_dim"),
        ({"activation": "tanh"}, ValueError, "activation"),
        ({"train_second_layer": "yes"}, TypeError, "train_second_layer"),
        ({"teacher_proj": 10 * np.ones((2, 6))}, ValueError, "inconsistent"),
        ({"eigenvalues": np.array([0, 1, 1, 1, 1, 1.0])}, ValueError, "Cauchy-Schwarz"),
    ],
)
def test_setup_bad_input(over, exc, match):
    """Every invalid Setup field raises a ValueError/TypeError naming it."""
    with pytest.raises(exc, match=match):
        Setup(**_raw(**over))


def test_delta_has_no_default():
    """latent_dim (hence delta = D/N) is required: omitting it is a TypeError, never a default."""
    kwargs = _raw()
    del kwargs["latent_dim"]
    with pytest.raises(TypeError, match="latent_dim"):
        Setup(**kwargs)


def test_from_weights_bad_covariances():
    """Asymmetric or indefinite omega, a transposed or mis-shaped phi, and a phi inconsistent with omega are
    refused."""
    rng, F, omega, w, B = linear_problem()
    args = (w, [1.0, 1.0], B, [1.0, 1.0])
    bad_sym = omega.copy()
    bad_sym[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        Setup.from_weights(*args, omega=bad_sym, phi=F, eta=0.1)
    with pytest.raises(ValueError, match="semi-definite"):
        Setup.from_weights(*args, omega=omega - 5 * np.eye(30), phi=F, eta=0.1)
    with pytest.raises(ValueError, match="phi"):
        Setup.from_weights(*args, omega=omega, phi=F.T, eta=0.1)
    with pytest.raises(ValueError, match="inconsistent"):
        Setup.from_weights(*args, omega=omega, phi=10 * F, eta=0.1)
    with pytest.raises(ValueError, match="omega"):
        Setup.from_weights(*args, omega=omega[:-1], phi=F, eta=0.1)


def test_student_validation_and_reference_init():
    """Student.random draws N(0,1) weights (theory §4.1) reproducibly; bad K, N and shapes are refused."""
    a, b = Student.random(3, 500, seed=4), Student.random(3, 500, seed=4)
    np.testing.assert_array_equal(a.w, b.w)
    assert abs(a.w.std() - 1.0) < 0.05
    with pytest.raises(ValueError, match="K"):
        Student.random(0, 10, seed=0)
    with pytest.raises(ValueError, match="N"):
        Student.random(2, 0, seed=0)
    with pytest.raises(ValueError, match="v"):
        Student(np.ones((2, 5)), np.ones(3))
    with pytest.raises(ValueError, match="w"):
        Student(np.ones(5), np.ones(1))
    with pytest.raises(ValueError, match="activation"):
        Student(np.ones((2, 5)), np.ones(2), activation="relu")


def test_from_network_bad_objects():
    """from_network needs a dynamics.Student and a committee teacher with weights B."""
    rng, F, omega, w, B = linear_problem()
    from spectra.teachers import CommitteeTeacher

    with pytest.raises(TypeError, match="Student"):
        Setup.from_network(w, CommitteeTeacher(B), omega=omega, phi=F, eta=0.1)
    with pytest.raises(TypeError, match="committee teacher"):
        Setup.from_network(Student(w, [1.0, 1.0]), object(), omega=omega, phi=F, eta=0.1)


class _ScaledPixel:
    """Test double: a sign generator whose output 0 is multiplied by ``scale`` (a nearly dead pixel at 1e-6, a
    dead one at 0), as the saturated corner pixels of the DCGANs are."""

    def __init__(self, scale, D=8, N=30):
        from spectra.generators import SingleLayer

        self.gen = SingleLayer(D, N, "sign", seed=0)
        self.latent_dim, self.output_dim, self.scale = D, N, scale

    def __call__(self, c):
        x = np.array(self.gen(c), dtype=float)
        x[:, 0] *= self.scale
        return x

    def fingerprint(self):
        return f"scaled-pixel-{self.scale}"


def _estimate(scale):
    from spectra import estimate_covariances

    return estimate_covariances(_ScaledPixel(scale), None, n_samples=3000, batch_size=500, seed=1, progress=False)


def test_from_network_keeps_tiny_modes_of_a_monte_carlo_estimate():
    """Issue: a consistent Monte Carlo estimate with a nearly dead pixel (scale 1e-6) has an eigenvalue below
    1e-10 s_max on which the teacher projects far more than 1e-8 of its norm (the old rule zeroed the mode and
    then refused the estimate). Reference: the estimate is the exact covariance of its samples, so
    Cauchy-Schwarz holds with its own latent covariance, b_i^2 <= s_i B psi B^T, and the mode is genuine.
    Now every eigenvalue is kept as computed (numpy.linalg.eigvalsh), no teacher projection is lost
    (Parseval: sum_i b_mi^2 = |phi B_m|^2) and Q, R equal their direct forms (theory §4.2) to round-off."""
    from spectra.teachers import CommitteeTeacher

    est = _estimate(1e-6)
    teacher = CommitteeTeacher.random(2, 8, seed=3)
    student = Student.random(2, 30, seed=4)
    s = np.linalg.eigvalsh(est.omega)
    bp = (est.phi @ teacher.B.T).T @ np.linalg.eigh(est.omega)[1]
    # the situation of the issue: a tiny mode with a projection the old rule (1e-8 of the norm) refused ...
    assert s[0] < 1e-10 * s[-1]
    assert np.max(np.abs(bp[:, 0])) > 1e-8 * np.min(np.linalg.norm(bp, axis=1))
    # ... that Cauchy-Schwarz with the estimate's own psi allows
    assert np.all(bp[:, 0] ** 2 <= s[0] * np.einsum("md,de,me->m", teacher.B, est.psi, teacher.B) * (1 + 1e-9))
    setup = Setup.from_network(student, teacher, omega=est.omega, phi=est.phi, eta=0.3)
    np.testing.assert_allclose(setup.eigenvalues, s, rtol=1e-9, atol=0)
    np.testing.assert_allclose(np.sum(setup.teacher_proj**2, axis=1),
                               np.sum((est.phi @ teacher.B.T) ** 2, axis=0), rtol=1e-12)
    N, D = 30, 8
    np.testing.assert_allclose(setup.Q, student.w @ est.omega @ student.w.T / N, rtol=1e-12)
    np.testing.assert_allclose(setup.R, student.w @ est.phi @ teacher.B.T / np.sqrt(N * D), rtol=1e-12)


def test_tiny_mode_and_null_mode_give_the_same_dynamics():
    """Consistency of the two treatments: a dead pixel (scale 0: an exactly null mode, zeroed with its
    round-off teacher projection) and a nearly dead one (scale 1e-6: a kept mode with s ~ 1e-13 s_max) are
    the same problem up to O(1e-6) in the fields; their ODE trajectories (same samples, same networks) agree
    to 1e-6 relative (measured 2e-8: the pixel's share of R), so the tiny mode neither blows up nor drifts on
    its slow time scale 1/(eta s_i), and the null mode is zeroed exactly."""
    from spectra.teachers import CommitteeTeacher

    teacher = CommitteeTeacher.random(2, 8, seed=3)
    student = Student.random(2, 30, seed=4)
    trajs = []
    for scale in (0.0, 1e-6):
        est = _estimate(scale)
        setup = Setup.from_network(student, teacher, omega=est.omega, phi=est.phi, eta=0.3)
        assert (np.sum(setup.eigenvalues == 0) == 1) == (scale == 0.0)
        if scale == 0.0:
            assert np.all(setup.teacher_proj[:, setup.eigenvalues == 0] == 0)
        trajs.append(integrate(setup, 5.0, times=[0.0, 1.0, 5.0], method="rk4", dt=0.05))
    assert trajs[0].converged and trajs[1].converged
    np.testing.assert_allclose(trajs[0].eps_g, trajs[1].eps_g, rtol=1e-6)
    assert trajs[0].eps_g[-1] < trajs[0].eps_g[0]


def test_teacher_on_a_null_mode_is_refused():
    """A projection on a null direction of omega far beyond round-off is inconsistent (Cauchy-Schwarz): here
    phi has a row for an input coordinate with zero variance. Refused, naming the inconsistency."""
    N, D = 6, 3
    F = np.random.default_rng(0).standard_normal((N, D))
    F[0] = 0.0  # x_0 = 0: omega has a null direction ...
    phi = F.copy()
    phi[0] = 1.0  # ... on which phi claims a covariance with c
    with pytest.raises(ValueError, match="inconsistent"):
        Setup.from_weights(np.ones((2, N)), [1.0, 1.0], np.ones((1, D)), [1.0], omega=F @ F.T, phi=phi, eta=0.1)


@pytest.mark.slow
def test_from_network_accepts_the_fashion_dcgan_estimate():
    """The issue's case: a 5000-sample Monte Carlo estimate of the pretrained fashion-dcgan (seed 0), which
    has eigenvalues below 1e-10 s_max (near-constant pixels), builds a Setup with every mode kept and
    integrates."""
    from spectra import estimate_covariances
    from spectra.generators import pretrained
    from spectra.teachers import CommitteeTeacher

    gen = pretrained("fashion-dcgan")
    est = estimate_covariances(gen, None, n_samples=5000, seed=0, progress=False)
    s = np.linalg.eigvalsh(est.omega)
    assert s[0] < 1e-10 * s[-1]
    setup = Setup.from_network(Student.random(2, gen.output_dim, seed=2), CommitteeTeacher.random(2, 100, seed=1),
                               omega=est.omega, phi=est.phi, eta=0.2)
    assert np.all(setup.eigenvalues > 0)
    traj = integrate(setup, 5.0, times=[0.0, 1.0, 5.0])
    assert traj.converged and traj.eps_g[-1] < traj.eps_g[0]


def test_isotropic_equals_from_network_with_identity():
    """Setup.isotropic (x = c, Omega = Phi = I, D = N) equals from_network with omega = phi = I: same Q, R, T,
    delta = 1, and the same trajectory (one bin is exact: a single eigenvalue)."""
    from spectra.teachers import CommitteeTeacher

    N = 20
    teacher = CommitteeTeacher.random(2, N, seed=1)
    student = Student.random(2, N, seed=2)
    iso = Setup.isotropic(student, teacher, eta=0.4)
    ref = Setup.from_network(student, teacher, omega=np.eye(N), phi=np.eye(N), eta=0.4)
    assert iso.delta == 1.0 and iso.N == N
    for name in ("Q", "R", "T", "T_tilde"):
        np.testing.assert_allclose(getattr(iso, name), getattr(ref, name), rtol=1e-12, atol=1e-15)
    times = [0.0, 1.0, 3.0]
    a = integrate(iso, 3.0, times=times, method="rk4", dt=0.02, bins=1)
    b = integrate(ref, 3.0, times=times, method="rk4", dt=0.02)
    np.testing.assert_allclose(a.eps_g, b.eps_g, rtol=1e-11)
    with pytest.raises(ValueError, match="D = B.shape\\[1\\] = 21"):
        Setup.isotropic(student, CommitteeTeacher.random(2, N + 1, seed=1), eta=0.4)


def test_from_overlaps_realises_the_overlaps_and_their_dynamics():
    """from_overlaps builds K + M modes whose Q, R, T_tilde are the given overlaps, and (Saad-Solla
    reduction, theory §4.6) its trajectory equals the one of actual N = 40 dimensional weights with the same
    overlaps on isotropic inputs."""
    rng = np.random.default_rng(0)
    N, K, M = 40, 2, 2
    W = rng.standard_normal((K, N)) * 0.5
    B = rng.standard_normal((M, N))
    Q, R, T = W @ W.T / N, W @ B.T / N, B @ B.T / N
    setup = Setup.from_overlaps(Q, R, T, [1.0, 0.5], [1.0, 1.0], eta=0.3)
    assert setup.N == K + M and setup.delta == 1.0
    for name, want in (("Q", Q), ("R", R), ("T_tilde", T), ("T", T)):
        np.testing.assert_allclose(getattr(setup, name), want, rtol=1e-12, atol=1e-14)
    ref = Setup.from_weights(W, [1.0, 0.5], B, [1.0, 1.0], omega=np.eye(N), phi=np.eye(N), eta=0.3)
    times = [0.0, 1.0, 4.0]
    np.testing.assert_allclose(integrate(setup, 4.0, times=times, method="rk4", dt=0.02).eps_g,
                               integrate(ref, 4.0, times=times, method="rk4", dt=0.02).eps_g, rtol=1e-11)
    with pytest.raises(ValueError, match="positive semi-definite"):
        Setup.from_overlaps(0.1 * np.eye(2), np.ones((2, 2)), np.eye(2), [1.0, 1.0], [1.0, 1.0], eta=0.1)
    with pytest.raises(ValueError, match="R must have shape"):
        Setup.from_overlaps(Q, R[:, :1], T, [1.0, 0.5], [1.0, 1.0], eta=0.1)


def test_caller_arrays_stay_writable():
    """Setup and Student freeze private copies, never the caller's arrays."""
    rng, F, omega, w, B = linear_problem()
    v = np.array([1.0, 1.0])
    Student(w, v)
    Setup.from_weights(w, v, B, [1.0, 1.0], omega=omega, phi=F, eta=0.3)
    assert w.flags.writeable and v.flags.writeable and omega.flags.writeable
