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
    with pytest.raises(ValueError, match="s must be >= 0"):
        Spectrum.from_covariances(omega=np.diag([1.0, -1.0, 1.0]), phi=0 * eye, psi=eye, theta=np.ones(3))
    with pytest.raises(ValueError, match="phi must have shape"):
        Spectrum.from_covariances(omega=eye, phi=np.ones((2, 3)), psi=eye, theta=np.ones(3))
    with pytest.raises(ValueError, match="theta must have length"):
        Spectrum.from_covariances(omega=eye, phi=eye, psi=eye, theta=np.ones(2))
    with pytest.raises(ValueError, match="psi"):
        Spectrum.from_covariances(omega=eye, phi=eye, psi=-eye, theta=np.ones(3))
    with pytest.raises(ValueError, match="p must be"):
        Spectrum.isotropic(0)

