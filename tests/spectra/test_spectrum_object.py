"""spectra.Spectrum: construction, validation and the teacher projection (theory §1.5, §5.1)."""

import numpy as np
import pytest

from spectra import Spectrum


def test_teacher_is_projected_on_eigenvectors_not_sorted():
    """Theory §5.1: t_i = (e_i^T Phi theta)^2 from the eigenvectors; a teacher on the smallest eigenvalue
    stays there (the 'commuting' shortcut would put it on the largest)."""
    s = np.array([3.0, 0.5, 1.0])
    spec = Spectrum.from_covariances(omega=np.diag(s), phi=np.diag(s), psi=np.diag(s), theta=np.array([0, 1.0, 0]))
    order = np.argsort(spec.s)
    assert spec.t[order[0]] == pytest.approx(0.25) and spec.t[order[1]] == 0 and spec.t[order[2]] == 0


def test_rotated_covariance_gives_the_same_spectrum():
    """Closed form: rotating Omega, Phi (rows) and theta's image consistently leaves (s, t) unchanged."""
    rng = np.random.default_rng(0)
    p = 6
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    s = np.linspace(0.5, 2.0, p)
    theta = rng.standard_normal(p)
    a = Spectrum.from_covariances(omega=np.diag(s), phi=np.diag(s), psi=np.diag(s), theta=theta)
    b = Spectrum.from_covariances(omega=q @ np.diag(s) @ q.T, phi=q @ np.diag(s), psi=np.diag(s), theta=theta)
    np.testing.assert_allclose(np.sort(a.s), np.sort(b.s), rtol=1e-12)
    np.testing.assert_allclose(a.t[np.argsort(a.s)], b.t[np.argsort(b.s)], rtol=1e-10, atol=1e-12)
    assert a.rho == pytest.approx(b.rho)


def test_averaged_teacher():
    """Averaged teacher: t_i = e_i^T Phi Phi^T e_i and rho = tr(Psi)/k (theory §1.5)."""
    spec = Spectrum.from_covariances_averaged(omega=np.diag([2.0, 1.0]), phi=np.array([[1.0, 0, 0], [0, 0.5, 0]]),
                                              psi=np.eye(3))
    assert spec.teacher == "averaged" and spec.gamma == pytest.approx(1.5) and spec.rho == pytest.approx(1.0)
    np.testing.assert_allclose(np.sort(spec.t), [0.25, 1.0])


def test_round_off_negatives_are_clipped_and_counted():
    """|s| <= 1e-10 max(s) below zero is round-off: clipped to 0 and recorded in `clipped`."""
    spec = Spectrum.from_arrays([1.0, -1e-12, 0.5], [0.1, 0.0, 0.1], rho=1.0, gamma=1.0)
    assert spec.s[1] == 0 and spec.clipped == 1


@pytest.mark.parametrize("kwargs,match", [
    (dict(s=[1.0, -0.1], t=[0.1, 0.0]), "s\\[1\\]"),
    (dict(s=[1.0, np.nan], t=[0.1, 0.0]), "finite"),
    (dict(s=[1.0, 1.0], t=[0.1, -0.1]), "t\\[1\\]"),
    (dict(s=[1.0, 1.0], t=[0.1]), "equal lengths"),
    (dict(s=[1.0, 0.0], t=[0.1, 0.1]), "Cauchy-Schwarz"),
    (dict(s=[1.0, 1.0], t=[5.0, 0.0]), "Cauchy-Schwarz"),
    (dict(s=[1.0, 1.0], t=[1.5, 1.5]), "rho_lin"),
    (dict(s=[1.0], t=[0.1], rho=0.0), "rho"),
    (dict(s=[1.0], t=[0.1], gamma=-1.0), "gamma"),
    (dict(s=[0.0], t=[0.0]), "positive eigenvalue"),
])
def test_bad_spectra(kwargs, match):
    """Every invalid spectrum raises ValueError naming the entry."""
    args = dict(rho=1.0, gamma=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        Spectrum.from_arrays(args.pop("s"), args.pop("t"), **args)


def test_bad_covariances():
    """Non-symmetric or non-PSD Omega, a Phi of the wrong shape (e.g. transposed), a theta of the wrong length."""
    eye = np.eye(3)
    with pytest.raises(ValueError, match="symmetric"):
        Spectrum.from_covariances(omega=np.triu(np.ones((3, 3))), phi=eye, psi=eye, theta=np.ones(3))
    with pytest.raises(ValueError, match="omega must be positive semi-definite"):
        Spectrum.from_covariances(omega=np.diag([1.0, -1.0, 1.0]), phi=0 * eye, psi=eye, theta=np.ones(3))
    with pytest.raises(ValueError, match="phi must have shape"):
        Spectrum.from_covariances(omega=eye, phi=np.ones((2, 3)), psi=eye, theta=np.ones(3))
    with pytest.raises(ValueError, match="theta must have length"):
        Spectrum.from_covariances(omega=eye, phi=eye, psi=eye, theta=np.ones(2))
    with pytest.raises(ValueError, match="psi"):
        Spectrum.from_covariances(omega=eye, phi=eye, psi=-eye, theta=np.ones(3))
    with pytest.raises(ValueError, match="p must be"):
        Spectrum.isotropic(0)



@pytest.mark.parametrize("kwargs", [dict(s=np.array([1.0, 2.0 + 1e-3j]), t=[0.1, 0.1]),
                                    dict(s=[1.0, 2.0], t=np.array([0.1 + 1j, 0.1]))])
def test_complex_spectra_are_refused(kwargs):
    """Complex eigenvalues or weights raise (they used to lose their imaginary part with a warning)."""
    with pytest.raises(ValueError, match="must be real; it has complex entries"):
        Spectrum.from_arrays(kwargs["s"], kwargs["t"], rho=1.0, gamma=1.0)


def test_complex_covariances_are_refused():
    """A complex Omega, Phi, Psi or theta raises, naming it."""
    eye = np.eye(3)
    for name in ("omega", "phi", "psi", "theta"):
        args = dict(omega=eye, phi=eye, psi=eye, theta=np.ones(3))
        args[name] = args[name] * (1 + 1e-2j)
        with pytest.raises(ValueError, match=f"{name} must be real"):
            Spectrum.from_covariances(**args)


def _low_rank(p, d, seed, decay=1.0):
    """A GCM with linear features v = W c / sqrt(d): Omega = W W^T / d (rank d), Phi = W / sqrt(d), Psi = I."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((p, d)) * np.geomspace(1.0, decay, d)[None, :]
    return w, rng.standard_normal(d)


@pytest.mark.parametrize("p,d,decay", [(120, 30, 1.0), (200, 50, 1e-1), (60, 60, 1.0)])
def test_float32_low_rank_covariances_are_accepted(p, d, decay):
    """Omega, Phi, Psi, theta in float32 (Omega computed in float32: low rank, or square and ill-conditioned)
    give a valid spectrum. Reference: the float64 spectrum of the same model: the eigenvalues above the
    float32 round-off level p * eps32 * max(s) agree to that level, and so do the ridge predictions (theory
    §2.5) at lam = 0.1: an eigenvalue moved by delta changes each resolvent 1/(lam + V_hat s) by a relative
    V_hat delta / lam <= alpha delta / lam, so the test error moves by a relative O(alpha level / lam)
    (asserted with a factor 2)."""
    from replica import Channel, Loss, solve

    w, theta = _low_rank(p, d, seed=p + d, decay=decay)
    w32 = w.astype(np.float32)
    s32 = Spectrum.from_covariances(omega=w32 @ w32.T / np.float32(d), phi=w32 / np.float32(np.sqrt(d)),
                                    psi=np.eye(d, dtype=np.float32), theta=theta.astype(np.float32))
    s64 = Spectrum.from_covariances(omega=w @ w.T / d, phi=w / np.sqrt(d), psi=np.eye(d), theta=theta)
    level = p * np.finfo(np.float32).eps * s64.s.max()
    assert s32.rho_lin <= s32.rho * (1 + 1e-6)
    big = np.sort(s64.s)[-d:]
    big = big[big > 10 * level]
    np.testing.assert_allclose(np.sort(s32.s)[-big.size:], big, rtol=0, atol=level)
    a = solve(s32, Loss.square(), Channel.linear(0.1), 2.0, 0.1)
    b = solve(s64, Loss.square(), Channel.linear(0.1), 2.0, 0.1)
    assert a.test_error == pytest.approx(b.test_error, rel=2 * 2.0 * level / 0.1)


def test_float32_tolerances_do_not_hide_real_errors():
    """A clearly indefinite or asymmetric float32 Omega and a Phi inconsistent with it are still refused."""
    eye = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="omega must be positive semi-definite"):
        Spectrum.from_covariances(omega=np.diag([1.0, -1e-2, 1.0]).astype(np.float32), phi=0 * eye, psi=eye,
                                  theta=np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="symmetric"):
        Spectrum.from_covariances(omega=eye + np.float32(1e-3) * np.triu(eye[::-1], 1), phi=eye, psi=eye,
                                  theta=np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="Cauchy-Schwarz|rho_lin"):
        Spectrum.from_covariances(omega=np.diag([1.0, 1.0, 1e-9]).astype(np.float32), phi=eye, psi=eye,
                                  theta=np.ones(3, dtype=np.float32))


def test_float64_behaviour_is_unchanged():
    """float64 input keeps the 1e-10 round-off threshold: a -1e-9 eigenvalue (relative) is refused, a tiny
    positive one is kept (not zeroed as for float32)."""
    eye = np.eye(3)
    with pytest.raises(ValueError, match="positive semi-definite"):
        Spectrum.from_covariances(omega=np.diag([1.0, -1e-9, 1.0]), phi=0 * eye, psi=eye, theta=np.ones(3))
    spec = Spectrum.from_covariances(omega=np.diag([1.0, 1e-12, 1.0]), phi=np.diag([1.0, 1e-12, 1.0]), psi=eye,
                                     theta=np.ones(3))
    assert spec.rank == 3 and spec.clipped == 0
