"""Setup and Student: state built from actual weights and covariances (theory §4.2, §4.6), bad inputs."""

import dataclasses

import numpy as np
import pytest

from dynamics import Setup, Student


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
    assert setup.train_second_layer is False and setup.activation == "erf"


def test_teacher_activation_must_match_student():
    """A linear teacher with an erf student is refused (the theory needs one g)."""
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
