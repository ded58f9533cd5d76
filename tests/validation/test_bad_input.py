"""Every bad input of issue 4 raises a ValueError/TypeError naming the argument."""

import numpy as np
import pytest

from replica import Channel, Loss
from spectra.features import random_features
from spectra.generators import SingleLayer
from spectra.teachers import LinearTeacher
from validation import Covariances, gaussian_equivalence, simulate

GEN = SingleLayer(10, 20, "sign", seed=0)
COV = Covariances(np.eye(20), np.zeros((20, 10)), np.zeros(20))
T = LinearTeacher.random(10, seed=1)


def run(**kw):
    args = dict(generator=GEN, features=None, teacher=T, channel=Channel.sign(), loss=Loss.logistic(), lam=0.1,
                alphas=[1.0], covariances=COV, n_test=50, seeds=2)
    args.update(kw)
    return simulate(args.pop("generator"), args.pop("features"), args.pop("teacher"), args.pop("channel"),
                    args.pop("loss"), args.pop("lam"), args.pop("alphas"), **args)


@pytest.mark.parametrize("kw,exc,match", [
    (dict(features=random_features(30, 5, seed=0)), ValueError, "input_dim"),
    (dict(teacher=LinearTeacher.random(11, seed=0)), ValueError, "latent dimension"),
    (dict(teacher="fixed"), ValueError, "averaged"),
    (dict(p=19), ValueError, "p = 19"),
    (dict(covariances=Covariances(np.eye(5), np.zeros((5, 10)), np.zeros(5))), ValueError, "p = 20"),
    (dict(covariances=Covariances(np.eye(20), np.zeros((20, 9)), np.zeros(20))), ValueError, "phi"),
    (dict(covariances=np.eye(20)), TypeError, "covariances"),
    (dict(alphas=[1.0, 0.0]), ValueError, "alphas"),
    (dict(alphas=[-1.0]), ValueError, "alphas"),
    (dict(alphas=[]), ValueError, "alphas"),
    (dict(lam=-1.0), ValueError, "lam must all be >= 0"),
    (dict(lam=0.0), ValueError, "lam must be > 0 for the logistic loss"),
    (dict(lam=[0.1, np.nan]), ValueError, "lam must be finite; entry 1"),
    (dict(lam=[[0.1]]), ValueError, "lam must be a non-empty 1-d"),
    (dict(seeds=0), ValueError, "seeds"),
    (dict(seeds=2.5), TypeError, "seeds"),
    (dict(n_test=0), ValueError, "n_test"),
    (dict(channel="sign"), TypeError, "channel"),
    (dict(loss="logistic"), TypeError, "loss"),
    (dict(generator=np.eye(3)), TypeError, "generator"),
    (dict(seed=-1), ValueError, "seed must be an int >= 0"),   # gaussequiv.seeding: negative seeds are a ValueError
])
def test_simulate_rejects(kw, exc, match):
    """Reference: the issue's list of bad inputs (mismatched dimensions, alphas <= 0, ...)."""
    with pytest.raises(exc, match=match):
        run(**kw)


def test_covariances_validate():
    """Reference: shapes of Omega (p, p), Phi (p, k) and the mean (p,)."""
    with pytest.raises(ValueError, match="phi"):
        Covariances(np.eye(3), np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="mean_v"):
        Covariances(np.eye(3), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        Covariances(np.full((2, 2), np.nan), np.zeros((2, 1)), np.zeros(2))


@pytest.mark.parametrize("kw,exc,match", [
    (dict(weights="diagonal"), ValueError, "weights"),
    (dict(sizes=5), TypeError, "sizes"),
    (dict(delta=0.0), ValueError, "delta"),
    (dict(floor_repeats=1), ValueError, "floor_repeats"),
    (dict(generator=3), TypeError, "generator"),
])
def test_gaussian_equivalence_rejects(kw, exc, match):
    """Reference: the documented argument checks of gaussian_equivalence."""
    args = dict(n_samples=100, sizes=(10,))
    args.update(kw)
    with pytest.raises(exc, match=match):
        gaussian_equivalence(**args)
