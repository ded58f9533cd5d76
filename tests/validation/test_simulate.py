"""Theory (replica) against finite-size simulations on generator samples (theory §5.4, §6.3).

Single-layer sign generator (D = 200, N = 400) followed by ReLU random features (p = 400; their mean is
not zero, so centring with the estimate's means is exercised), covariances from an independent Monte Carlo
estimate (1e5 samples), a fixed latent teacher. The simulation is the reference: at three alphas and for every
measured quantity (20 seeds), the verdict of validation.compare (Holm at family-wise level LEVEL) must be
"agree"; an exact theory fails such a check with probability at most LEVEL.
"""

import numpy as np
import pytest

import replica
from replica import Channel, Loss
from spectra import Spectrum, estimate_covariances
from spectra.features import random_features
from spectra.generators import SingleLayer
from spectra.teachers import LinearTeacher
from validation import compare, simulate

ALPHAS = [0.5, 1.5, 3.0]
#: Family-wise level of the agreement checks.
LEVEL = 1e-3


@pytest.fixture(scope="module")
def problem():
    gen = SingleLayer(200, 400, "sign", seed=0)
    fmap = random_features(400, 400, "relu", seed=1)
    est = estimate_covariances(gen, fmap, 100_000, batch_size=5000, seed=2, progress=False, precision="float32")
    teacher = LinearTeacher.random(200, seed=3)
    return gen, fmap, est, teacher, Spectrum.from_estimate(est, teacher.theta)


@pytest.mark.parametrize("loss,channel,lam", [
    (Loss.square(), Channel.linear(0.1), 0.1),     # regression: catches a 1/sqrt(p) applied twice (§5.4)
    (Loss.logistic(), Channel.sign(), 0.01),
    (Loss.hinge(), Channel.sign(), 0.1),
    (Loss.square(), Channel.probit(0.2), 0.1),     # square loss on noisy sign labels
])
def test_theory_matches_simulation(problem, loss, channel, lam):
    """Reference: simulation (20 seeds, 4000 fresh test samples each); every measured quantity agrees (LEVEL)."""
    gen, fmap, est, teacher, spec = problem
    curve = replica.learning_curve(spec, loss, channel, ALPHAS, lam)
    sim = simulate(gen, fmap, teacher, channel, loss, lam, ALPHAS, covariances=est, n_test=4000, seeds=20, seed=4)
    cmp = compare(curve, sim, spectrum=spec, level=LEVEL)
    print(cmp.summary())
    assert cmp.verdict == "agree", cmp.summary()


def test_wrong_teacher_is_caught(problem):
    """Reference: the same simulation; a theory computed for a different fixed teacher (another theta of the
    same norm distribution) must be declared in disagreement. This is what lets the test above fail."""
    gen, fmap, est, teacher, spec = problem
    loss, channel, lam = Loss.square(), Channel.linear(0.1), 0.1
    other = Spectrum.from_estimate(est, LinearTeacher.random(200, seed=99).theta)
    curve = replica.learning_curve(other, loss, channel, ALPHAS, lam)
    sim = simulate(gen, fmap, teacher, channel, loss, lam, ALPHAS, covariances=est, n_test=4000, seeds=20, seed=4)
    cmp = compare(curve, sim, level=LEVEL)
    assert cmp.verdict == "disagree"
    with pytest.raises(ValueError, match="different teacher"):
        compare(curve, sim, spectrum=other)


def test_teacher_on_a_generator_unit_breaks_equivalence(problem):
    """Reference: the simulation, and theory §7 (a localised direction is where equivalence fails). With the
    teacher along a generator row, theta = sqrt(D) F_0, the label sign(nu) = x_0 is one of the generator's
    units: logistic regression learns it far better than the Gaussian model allows (measured at p = 400:
    test error ~0.14 against a prediction ~0.28), and the comparison must say so. (This is what a teacher
    drawn with the same int seed as the generator produces.)"""
    gen, fmap, est, _, _ = problem
    teacher = LinearTeacher(np.sqrt(200) * gen.weights[0])
    spec = Spectrum.from_estimate(est, teacher.theta)
    curve = replica.learning_curve(spec, Loss.logistic(), Channel.sign(), [3.0], 0.01)
    sim = simulate(gen, fmap, teacher, Channel.sign(), Loss.logistic(), 0.01, [3.0], covariances=est, n_test=4000,
                   seeds=5, seed=4)
    cmp = compare(curve, sim, spectrum=spec, level=LEVEL)
    assert cmp.verdict == "disagree" and cmp.group("test error").verdict == "disagree"
    assert sim.mean("test_error")[0] < curve.test_error[0] - 0.05


def test_averaged_teacher(problem):
    """Reference: simulation with theta ~ N(0, I_D) redrawn per seed (theory §1.5, fixed vs averaged teacher),
    against the teacher-averaged spectrum; ridge regression agrees (20 seeds, LEVEL)."""
    gen, fmap, est, _, _ = problem
    spec = Spectrum.from_estimate(est)
    loss, channel, lam = Loss.square(), Channel.linear(0.1), 0.1
    curve = replica.learning_curve(spec, loss, channel, ALPHAS, lam)
    sim = simulate(gen, fmap, "averaged", channel, loss, lam, ALPHAS, covariances=est, n_test=4000, seeds=20, seed=5)
    assert sim.teacher == "averaged" and np.unique(sim.rho).size == 20
    cmp = compare(curve, sim, spectrum=spec, level=LEVEL)
    print(cmp.summary())
    assert cmp.verdict == "agree", cmp.summary()


@pytest.mark.parametrize("loss,channel,lams,alpha", [
    (Loss.square(), Channel.linear(0.1), [1e-3, 1e-2, 1e-1, 1.0], 1.5),   # one eigendecomposition per seed
    (Loss.logistic(), Channel.sign(), [1.0, 0.1, 0.01], 2.0),              # warm starts along lam
])
def test_lambda_path(problem, loss, channel, lams, alpha):
    """Reference: simulation (20 seeds; one training set per seed for the whole path) against
    replica.lambda_path; every quantity agrees (LEVEL)."""
    gen, fmap, est, teacher, spec = problem
    curve = replica.lambda_path(spec, loss, channel, alpha, lams)
    sim = simulate(gen, fmap, teacher, channel, loss, lams, alpha, covariances=est, n_test=4000, seeds=20, seed=6)
    cmp = compare(curve, sim, spectrum=spec, level=LEVEL)
    print(cmp.summary())
    assert cmp.is_lambda_path and cmp.verdict == "agree", cmp.summary()
    with pytest.raises(ValueError, match="lam"):
        compare(replica.learning_curve(spec, loss, channel, [alpha] * len(lams), lams[0]), sim)
