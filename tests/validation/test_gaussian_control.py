"""The Gaussian covariate model built by ``validation.gaussian_control``.

References: the requested covariances themselves (Monte Carlo moments of the control's samples within 5
standard errors), and the replica theory on those covariances (the control is the model the equations are
exact for, so a simulation on it must agree with the theory at every point, ridge and logistic)."""

from types import SimpleNamespace

import numpy as np
import pytest

import replica
from replica import Channel, Loss
from spectra import Spectrum
from spectra.teachers import LinearTeacher
from validation import Covariances, compare, gaussian_control, simulate


def _structured(p=60, k=40, seed=0):
    """A joint covariance with a non-trivial Psi, rank-deficient Phi and a non-identity Omega."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((p + k, p + k + 10)) / np.sqrt(p + k)
    a[:, :5] *= 3.0
    joint = a @ a.T
    return Covariances(omega=joint[:p, :p], phi=joint[:p, p:], mean_v=np.zeros(p)), joint[p:, p:]


class _WithPsi:
    def __init__(self, cov, psi):
        self.omega, self.phi, self.psi, self.mean_v = cov.omega, cov.phi, psi, cov.mean_v


def test_samples_have_the_requested_moments():
    """E[v v^T] = omega, E[v nu] = phi theta/sqrt(k), E[nu^2] = theta^T psi theta/k, each within 5 SE of the
    Monte Carlo mean of 40 000 control samples; and the control's phi/teacher give the theory's m-vector
    exactly (R_v theta_xi/sqrt(r) = phi theta/sqrt(k))."""
    cov, psi = _structured()
    k = psi.shape[0]
    theta = np.random.default_rng(1).standard_normal(k)
    ctrl = gaussian_control(_WithPsi(cov, psi), theta)
    xi = np.random.default_rng(2).standard_normal((40_000, ctrl.rank)).astype(np.float32)
    v = ctrl.generator(xi).astype(np.float64)
    nu = ctrl.teacher(xi.astype(np.float64))
    for name, samples, want in [
        ("omega", v[:, :, None] * v[:, None, :], cov.omega),
        ("phi theta", v * nu[:, None], cov.phi @ theta / np.sqrt(k)),
        ("rho", (nu**2)[:, None], np.atleast_1d(theta @ psi @ theta / k)),
    ]:
        mean = samples.mean(axis=0)
        se = samples.std(axis=0) / np.sqrt(len(samples))
        z = np.abs(mean - want) / np.maximum(se, 1e-12)
        assert np.max(z) < 5.0, (name, np.max(z))
    m_vec = ctrl.covariances.phi @ ctrl.teacher.theta / np.sqrt(ctrl.rank)
    np.testing.assert_allclose(m_vec, cov.phi @ theta / np.sqrt(k), rtol=0, atol=2e-6 * np.abs(m_vec).max())


def test_identity_psi_by_default_and_teacher_object():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((20, 10)), rng.standard_normal((20, 20))
    cov = Covariances(omega=a @ a.T + b @ b.T, phi=a, mean_v=np.zeros(20))
    teacher = LinearTeacher(np.arange(1.0, 11.0))
    a = gaussian_control(cov, teacher)
    b = gaussian_control(_WithPsi(cov, np.eye(10)), teacher.theta)
    np.testing.assert_array_equal(a.teacher.theta, b.teacher.theta)
    assert a.clipped <= 1e-9 and set(a.to_dict()) == {"generator", "teacher", "covariances", "rank", "clipped"}


@pytest.mark.parametrize("loss,channel,lam", [(Loss.square(), Channel.linear(0.1), 0.05),
                                              (Loss.logistic(), Channel.sign(), 0.05)])
def test_control_simulation_agrees_with_theory(loss, channel, lam):
    """Reference: replica theory on the same (omega, phi, psi). 12 seeds at p = 60, three alphas, all six
    quantities within 3.5 SE (the comparison's own threshold) and family p-value >= 1%."""
    cov, psi = _structured()
    est = _WithPsi(cov, psi)
    theta = np.random.default_rng(4).standard_normal(psi.shape[0])
    spec = Spectrum.from_covariances(omega=cov.omega, phi=cov.phi, psi=psi, theta=theta)
    alphas = [0.5, 1.0, 3.0]
    curve = replica.learning_curve(spec, loss, channel, alphas, lam, progress=False)
    ctrl = gaussian_control(est, theta)
    sim = simulate(ctrl.generator, None, ctrl.teacher, channel, loss, lam, alphas, covariances=ctrl.covariances,
                   n_test=4000, seeds=12, seed=5, progress=False)
    cmp = compare(curve, sim, threshold=3.5)
    assert cmp.verdict == "agree" and cmp.family_p_value >= 0.01, cmp.summary()


def test_control_detects_a_wrong_theory():
    """The same check has power: theory for a teacher scaled by 1.3 (rho off by 69%) disagrees (max |z| > 5)."""
    cov, psi = _structured()
    theta = np.random.default_rng(4).standard_normal(psi.shape[0])
    wrong = Spectrum.from_covariances(omega=cov.omega, phi=cov.phi, psi=psi, theta=1.3 * theta)
    curve = replica.learning_curve(wrong, Loss.square(), Channel.linear(0.1), [0.5, 1.0, 3.0], 0.05,
                                   progress=False)
    ctrl = gaussian_control(_WithPsi(cov, psi), theta)
    sim = simulate(ctrl.generator, None, ctrl.teacher, Channel.linear(0.1), Loss.square(), 0.05, [0.5, 1.0, 3.0],
                   covariances=ctrl.covariances, n_test=4000, seeds=12, seed=5, progress=False)
    assert compare(curve, sim).max_abs_z > 5


def test_bad_input():
    cov, psi = _structured(p=20, k=10, seed=3)
    with pytest.raises(ValueError, match="theta must be a finite vector of length k = phi.shape"):
        gaussian_control(cov, np.ones(11))
    with pytest.raises(ValueError, match=r"phi must have shape \(20, \*\), got \(5, 10\)"):
        gaussian_control(SimpleNamespace(omega=cov.omega, phi=cov.phi[:5]), np.ones(10))
    bad = Covariances(omega=cov.omega, phi=cov.phi * 10, mean_v=np.zeros(20))
    with pytest.raises(ValueError, match="not PSD.*same samples"):
        gaussian_control(bad, np.ones(10))
    nan = cov.omega.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="omega contains NaN"):
        gaussian_control(Covariances(omega=nan, phi=cov.phi, mean_v=np.zeros(20)), np.ones(10))


def test_square_omega_and_float32_tolerance():
    cov, psi = _structured(p=20, k=10, seed=3)
    with pytest.raises(ValueError, match="omega must be square"):
        gaussian_control(SimpleNamespace(omega=cov.omega[:, :19], phi=cov.phi, psi=psi), np.ones(10))
    # a float32 copy is PSD only to float32 rounding: accepted (float32 tolerance), same teacher field
    f32 = SimpleNamespace(omega=cov.omega.astype(np.float32), phi=cov.phi.astype(np.float32),
                          psi=psi.astype(np.float32))
    ctrl = gaussian_control(f32, np.ones(10))
    ref = gaussian_control(_WithPsi(cov, psi), np.ones(10))
    assert ctrl.teacher.rho == pytest.approx(ref.teacher.rho, rel=1e-5)


def test_family_verdict():
    """Comparison.family_verdict: 'incomplete' on a NaN z, 'disagree' for a wrong theory, level checked."""
    cov, psi = _structured()
    theta = np.random.default_rng(4).standard_normal(psi.shape[0])
    ctrl = gaussian_control(_WithPsi(cov, psi), theta)
    sim = simulate(ctrl.generator, None, ctrl.teacher, Channel.linear(0.1), Loss.square(), 0.05, [0.5, 3.0],
                   covariances=ctrl.covariances, n_test=2000, seeds=6, seed=5, progress=False)
    spec = Spectrum.from_covariances(omega=cov.omega, phi=cov.phi, psi=psi, theta=theta)
    right = compare(replica.learning_curve(spec, Loss.square(), Channel.linear(0.1), [0.5, 3.0], 0.05), sim)
    assert right.family_verdict() == "agree"
    wrong_spec = Spectrum.from_covariances(omega=cov.omega, phi=cov.phi, psi=psi, theta=1.5 * theta)
    wrong = compare(replica.learning_curve(wrong_spec, Loss.square(), Channel.linear(0.1), [0.5, 3.0], 0.05), sim)
    assert wrong.family_verdict() == "disagree"
    z = right.z.copy()
    z[0, 0] = np.nan
    from dataclasses import replace

    assert replace(right, z=z).family_verdict() == "incomplete"
    with pytest.raises(ValueError, match="level must be in"):
        right.family_verdict(1.5)
