"""The estimators against independent references: numpy linear algebra and scikit-learn."""

import numpy as np
import pytest

from replica import Loss
from validation.fit import design, fit, fit_hinge, fit_smooth, ridge_path


def _data(n, p, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((n, p))
    theta = rng.standard_normal(p)
    X = design(V)
    y = np.sign(V @ theta / np.sqrt(p) + noise * rng.standard_normal(n))
    return V, X, y


def test_design_scales_once():
    """Reference: the definition X = V/sqrt(p) (theory §1.4, §5.4)."""
    V = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(design(V), V / 2.0)


@pytest.mark.parametrize("n,p", [(80, 30), (30, 80)])
def test_ridge_path_matches_direct_solve(n, p):
    """Reference: numpy.linalg.solve of (X^T X + lam I) w = X^T y at every lam, and lstsq's min-norm
    solution at lam = 0; primal (n >= p) and dual (n < p) routes."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    y = rng.standard_normal(n)
    lams = [0.0, 1e-3, 0.1, 10.0]
    W, method = ridge_path(X, y, lams)
    assert method == ("ridge-primal" if n >= p else "ridge-dual")
    np.testing.assert_allclose(W[0], np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-7, atol=1e-9)
    for lam, w in zip(lams[1:], W[1:], strict=True):
        np.testing.assert_allclose(w, np.linalg.solve(X.T @ X + lam * np.eye(p), X.T @ y), rtol=1e-9, atol=1e-12)


def test_logistic_equals_sklearn():
    """Reference: scikit-learn LogisticRegression(C=1/lam, fit_intercept=False) (newton-cholesky, tol 1e-12)
    minimises (1/lam) sum log(1 + exp(-y x.w)) + |w|^2/2, the same objective divided by lam: weights agree
    to 1e-6."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    _, X, y = _data(400, 50, seed=2)
    for lam in (1e-2, 1.0):
        ours = fit_smooth(Loss.logistic(), X, y, lam)
        ref = sklearn.LogisticRegression(C=1 / lam, fit_intercept=False, solver="newton-cholesky", tol=1e-12,
                                         max_iter=1000).fit(X, y)
        assert ours.converged
        np.testing.assert_allclose(ours.w, ref.coef_[0], rtol=0, atol=1e-6)


def test_generic_smooth_loss_equals_builtin():
    """Reference: the built-in logistic fit; Loss.from_expr('log(1 + exp(-y*z))') goes through the same
    L-BFGS path with sympy-derived derivatives and must give the same weights."""
    _, X, y = _data(200, 20, seed=3)
    a = fit(Loss.logistic(), X, y, 0.1)
    b = fit(Loss.from_expr("log(1 + exp(-y*z))"), X, y, 0.1)
    assert a.converged and b.converged
    np.testing.assert_allclose(a.w, b.w, atol=1e-6)


def test_huber_stationarity():
    """Reference: the first-order condition X^T l'(y, Xw) + lam w = 0 of the Huber objective, evaluated with
    numpy's clip (the Huber derivative), independent of the optimiser."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((150, 10)) / np.sqrt(10)
    y = X @ rng.standard_normal(10) + rng.standard_t(2, 150)
    f = fit(Loss.huber(1.0), X, y, 0.5)
    grad = X.T @ np.clip(X @ f.w - y, -1.0, 1.0) + 0.5 * f.w
    assert f.converged and np.linalg.norm(grad) < 1e-6


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_hinge_equals_sklearn_linearsvc():
    """Reference: scikit-learn LinearSVC(loss='hinge', fit_intercept=False, C=1/lam) (liblinear dual coordinate
    descent) minimises |w|^2/2 + C sum hinge, our objective divided by lam; plus our duality-gap certificate."""
    svm = pytest.importorskip("sklearn.svm")
    _, X, y = _data(200, 10, seed=5)
    lam = 0.5
    ours = fit_hinge(X, y, lam)
    ref = svm.LinearSVC(C=1 / lam, loss="hinge", fit_intercept=False, tol=1e-12, max_iter=1_000_000,
                        random_state=0).fit(X, y)
    assert ours.converged and ours.certificate < 1e-12
    np.testing.assert_allclose(ours.w, ref.coef_[0], atol=1e-8)


def test_nonconvergence_is_flagged():
    """Reference: a deliberately impossible tolerance; the fit must come back converged=False, never a silent
    number."""
    _, X, y = _data(100, 10, seed=6)
    f = fit_smooth(Loss.logistic(), X, y, 1e-3, tol=1e-30)
    assert not f.converged and f.certificate > 1e-30


def test_bad_fit_inputs():
    """Reference: the documented argument checks."""
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="lam"):
        fit_smooth(Loss.logistic(), X, np.ones(3), 0.0)
    with pytest.raises(ValueError, match="y"):
        ridge_path(X, np.ones(4), [1.0])
    with pytest.raises(ValueError, match="labels"):
        fit_hinge(X, np.array([0.5, 1, -1]), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        ridge_path(np.full((3, 2), np.nan), np.ones(3), [1.0])
