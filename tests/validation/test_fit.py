"""The estimators against independent references: numpy linear algebra and scikit-learn.

Every tolerance is what the estimator under test promises (its certificate) or the rounding error of the
reference (eps x condition number), never a number that depends on the BLAS."""

import numpy as np
import pytest
from scipy.special import expit

from replica import Loss
from validation.fit import design, fit, fit_hinge, fit_path, fit_ridge, fit_smooth, ridge_path


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


def _rounding_rtol(A) -> float:
    """Relative accuracy of a backward-stable solve with matrix A: a safety factor 1e3 x eps x cond(A)."""
    return 1e3 * np.finfo(float).eps * np.linalg.cond(A)


@pytest.mark.parametrize("n,p", [(80, 30), (30, 80)])
def test_ridge_path_matches_direct_solve(n, p):
    """Reference: numpy.linalg.solve of (X^T X + lam I) w = X^T y at every lam, to the rounding error a
    backward-stable solve allows (eps x cond), and lstsq's min-norm solution at lam = 0; primal (n >= p) and
    dual (n < p) routes."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    y = rng.standard_normal(n)
    lams = [0.0, 1e-3, 0.1, 10.0]
    W, method = ridge_path(X, y, lams)
    assert method == ("ridge-primal-eigh" if n >= p else "ridge-dual-eigh")
    np.testing.assert_allclose(W[0], np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-7, atol=1e-9)
    for lam, w in zip(lams[1:], W[1:], strict=True):
        A = X.T @ X + lam * np.eye(p)
        ref = np.linalg.solve(A, X.T @ y)
        assert np.linalg.norm(w - ref) <= _rounding_rtol(A) * np.linalg.norm(ref)


@pytest.mark.parametrize("n,p", [(120, 40), (40, 120)])
@pytest.mark.parametrize("lam", [1e-4, 0.1, 10.0])
def test_fit_ridge_cholesky(n, p, lam):
    """Reference: numpy.linalg.solve of the primal normal equations (to eps x cond) and the eigendecomposition
    route of ridge_path; the certificate is the documented bound |grad F|/(lam max(1, |w|)), recomputed here
    from the objective's gradient, and it bounds the distance to the reference."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    y = rng.standard_normal(n)
    f = fit_ridge(X, y, lam)
    assert f.method == ("ridge-primal" if p <= n else "ridge-dual") and f.converged and f.status == "converged"
    A = X.T @ X + lam * np.eye(p)
    ref = np.linalg.solve(A, X.T @ y)
    scale = max(1.0, np.linalg.norm(f.w))
    grad = X.T @ (X @ f.w - y) + lam * f.w
    assert f.certificate == pytest.approx(np.linalg.norm(grad) / (lam * scale), rel=1e-6, abs=1e-15)
    assert np.linalg.norm(f.w - ref) <= f.certificate * scale + _rounding_rtol(A) * np.linalg.norm(ref)
    W, _ = ridge_path(X, y, [lam])
    assert np.linalg.norm(f.w - W[0]) <= 2 * _rounding_rtol(A) * np.linalg.norm(ref)
    assert fit(Loss.square(), X, y, lam).method == f.method


def test_fit_ridge_without_a_certificate_is_flagged():
    """Reference: strong convexity. A duplicated column at lam = 1e-300 makes X^T X + lam I singular to
    rounding: whichever route solves it, |grad F|/lam cannot be small, so the fit must not claim convergence.
    At lam = 0 the minimum-norm least-squares solution (lstsq) is the closed form."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal(20)
    X = np.column_stack([a, a, rng.standard_normal(20)])
    y = rng.standard_normal(20)
    assert not fit_ridge(X, y, 1e-300).converged
    f0 = fit_ridge(X, y, 0.0)
    assert f0.converged and f0.method.endswith("-eigh")
    np.testing.assert_allclose(f0.w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-7, atol=1e-9)


def test_fit_path_certificates():
    """Reference: fit_ridge at each lam (the same problem, another route); a lambda path of the square loss
    is one eigendecomposition with a certificate per lam, a logistic path is warm-started fits that each
    meet their tolerance."""
    _, X, y = _data(60, 20, seed=7)
    lams = [1.0, 0.1, 0.01]
    path = fit_path(Loss.square(), X, y, lams)
    for lam, f in zip(lams, path, strict=True):
        single = fit_ridge(X, y, lam)
        assert f.converged and f.method == "ridge-primal-eigh"
        assert np.linalg.norm(f.w - single.w) <= (f.certificate + single.certificate) * max(1, np.linalg.norm(f.w))
    assert all(f.converged and f.certificate <= 1e-6 for f in fit_path(Loss.logistic(), X, y, lams))


def _logistic_gradient(X, y, lam, w):
    """The gradient of sum log(1 + exp(-y x.w)) + lam |w|^2/2, written here with scipy's expit."""
    return X.T @ (-y * expit(-y * (X @ w))) + lam * w


def test_logistic_equals_sklearn():
    """Reference: scikit-learn LogisticRegression(C=1/lam, fit_intercept=False) (newton-cholesky) minimises
    (1/lam) sum log(1 + exp(-y x.w)) + |w|^2/2, the same objective divided by lam. By lam-strong convexity each
    weight vector is within |grad F|/lam of the minimiser: ours within its certificate x max(1, |w|) (at most
    tol = 1e-6, its documented promise), scikit-learn's within its own gradient norm (computed here)/lam, so
    the two differ by at most the sum (plus the rounding of these gradients, relative 1e-9)."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    _, X, y = _data(400, 50, seed=2)
    for lam in (1e-2, 1.0):
        ours = fit_smooth(Loss.logistic(), X, y, lam)
        ref = sklearn.LogisticRegression(C=1 / lam, fit_intercept=False, solver="newton-cholesky", tol=1e-12,
                                         max_iter=1000).fit(X, y).coef_[0]
        scale = max(1.0, np.linalg.norm(ours.w))
        assert ours.converged and ours.certificate <= 1e-6
        independent = np.linalg.norm(_logistic_gradient(X, y, lam, ours.w)) / (lam * scale)
        assert independent <= 1e-6 + 1e-9
        bound = independent * scale + np.linalg.norm(_logistic_gradient(X, y, lam, ref)) / lam
        assert np.linalg.norm(ours.w - ref) <= bound + 1e-9 * scale


def test_generic_smooth_loss_equals_builtin():
    """Reference: the built-in logistic fit; Loss.from_expr('log(1 + exp(-y*z))') goes through the same
    L-BFGS path with sympy-derived derivatives and must give the same minimiser: the two weight vectors are
    within the sum of their certified distances to it."""
    _, X, y = _data(200, 20, seed=3)
    a = fit(Loss.logistic(), X, y, 0.1)
    b = fit(Loss.from_expr("log(1 + exp(-y*z))"), X, y, 0.1)
    assert a.converged and b.converged
    bound = a.certificate * max(1, np.linalg.norm(a.w)) + b.certificate * max(1, np.linalg.norm(b.w))
    assert np.linalg.norm(a.w - b.w) <= bound * (1 + 1e-9)


def test_huber_stationarity():
    """Reference: the first-order condition X^T l'(y, Xw) + lam w = 0 of the Huber objective, evaluated with
    numpy's clip (the Huber derivative), independent of the optimiser: its norm is within the documented
    certificate, |grad| <= tol lam max(1, |w|) (plus rounding of the sum, relative 1e-12 of its terms)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((150, 10)) / np.sqrt(10)
    y = X @ rng.standard_normal(10) + rng.standard_t(2, 150)
    lam, tol = 0.5, 1e-6
    f = fit(Loss.huber(1.0), X, y, lam, tol=tol)
    terms = np.abs(X.T) @ np.abs(np.clip(X @ f.w - y, -1.0, 1.0)) + lam * np.abs(f.w)
    grad = X.T @ np.clip(X @ f.w - y, -1.0, 1.0) + lam * f.w
    assert f.converged
    assert np.linalg.norm(grad) <= tol * lam * max(1, np.linalg.norm(f.w)) + 1e-12 * np.linalg.norm(terms)


def _hinge_primal(X, y, lam, w):
    return float(np.sum(np.maximum(0.0, 1.0 - y * (X @ w)))) + 0.5 * lam * float(w @ w)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_hinge_equals_sklearn_linearsvc():
    """Reference: scikit-learn LinearSVC(loss='hinge', fit_intercept=False, C=1/lam) (liblinear dual coordinate
    descent, whose own convergence is not relied on) minimises |w|^2/2 + C sum hinge, our objective divided by
    lam. Our fit promises a relative duality gap <= tol = 1e-8, so P(ours) - P* <= gap; its primal value is
    then no worse than scikit-learn's beyond that gap (computed here with numpy, up to their rounding, relative
    1e-12), and by lam-strong convexity
    |w - w*|^2 <= 2 (P(w) - P*)/lam bounds the distance of both weight vectors to the minimiser."""
    svm = pytest.importorskip("sklearn.svm")
    _, X, y = _data(200, 10, seed=5)
    lam, tol = 0.5, 1e-8
    ours = fit_hinge(X, y, lam, tol=tol)
    ref = svm.LinearSVC(C=1 / lam, loss="hinge", fit_intercept=False, tol=1e-12, max_iter=1_000_000,
                        random_state=0).fit(X, y).coef_[0]
    assert ours.converged and ours.certificate <= tol
    p_ours, p_ref = _hinge_primal(X, y, lam, ours.w), _hinge_primal(X, y, lam, ref)
    gap = ours.certificate * max(1.0, p_ours)
    rounding = 1e-12 * max(1.0, p_ref)  # of the two sums above
    assert p_ours <= p_ref + gap + rounding
    dist = np.sqrt(2 * (gap + rounding) / lam) + np.sqrt(2 * max(p_ref - p_ours + gap + rounding, 0.0) / lam)
    assert np.linalg.norm(ours.w - ref) <= dist * (1 + 1e-9)


def test_fit_judges_the_hinge_by_the_tol_it_is_given(monkeypatch):
    """Reference: the documented criterion of every route, converged == (certificate <= tol) with the caller's
    tol; for the hinge the certificate is the relative duality gap. fit() used to call the hinge route without
    tol, which then judged by its own default 1e-8 while simulate()'s warning quoted the tol it was given."""
    import validation.fit as vf

    _, X, y = _data(60, 10, seed=3)
    for tol in (1e-30, 1e-2):  # a tol no fit meets, and one every finite gap below 1% meets
        f = fit(Loss.hinge(), X, y, 1e-3, tol=tol)
        assert f.method == "hinge-dual" and f.converged == (f.certificate <= tol)
    seen = {}

    def route(X, y, lam, **kwargs):
        seen.update(kwargs)
        return fit_hinge(X, y, lam, **kwargs)

    monkeypatch.setitem(vf._NONSMOOTH, "hinge", route)
    fit(Loss.hinge(), X, y, 0.5, tol=3e-5)
    assert seen == {"tol": 3e-5}


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
    with pytest.raises(ValueError, match="X must be finite"):
        ridge_path(np.full((3, 2), np.nan), np.ones(3), [1.0])
    with pytest.raises(ValueError, match="lam must be > 0"):
        fit_hinge(X, np.ones(3), 0.0)
    with pytest.raises(ValueError, match="lams must all be >= 0"):
        ridge_path(X, np.ones(3), [1.0, -1.0])
    with pytest.raises(TypeError, match="lam must be a real number"):
        fit_ridge(X, np.ones(3), "1")
