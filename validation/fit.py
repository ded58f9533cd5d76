r"""Full-batch empirical risk minimisation with exactly the theory's objective (theory §1.4, §5.4, §5.11).

Every estimator here minimises

.. math:: F(w) = \sum_{\mu=1}^n \ell\big(y^\mu, w\cdot v^\mu/\sqrt p\big) + \frac{\lambda}{2}\|w\|^2

on centred features ``v`` (rows of an ``(n, p)`` array). The ``1/sqrt(p)`` is applied once, by
:func:`design`, and both fitting and prediction go through it.

* square loss ``(y - z)^2/2``: at one ``lam`` a Cholesky solve of the smaller of the primal ``p x p`` and
  dual ``n x n`` systems (:func:`fit_ridge`); along many ``lam`` one eigendecomposition of the smaller one
  (:func:`ridge_path`, :func:`fit_path`). Certified like the smooth losses below (``lam > 0``);
* any smooth convex :class:`replica.Loss` (logistic, Huber, :meth:`replica.Loss.from_expr`):
  L-BFGS with the analytic gradient ``X^T l'(y, Xw) + lam w`` (:func:`fit_smooth`), polished by
  Newton-CG when L-BFGS stalls. Because ``F`` is ``lam``-strongly convex,
  ``|w - w*| <= |grad F(w)|/lam``: the fit is declared converged only when this certified bound is below
  ``tol * max(1, |w|)``;
* hinge loss: its dual, a box-constrained concave quadratic, solved by L-BFGS-B (:func:`fit_hinge`);
  converged when the relative duality gap ``(P - D)/max(1, |P|)`` is below ``tol`` (so for the hinge ``tol``
  bounds a duality gap, not a weight error).

A fit that does not meet its criterion comes back with ``converged=False`` (never silently).
:func:`fit_path` fits one training set at many ``lam`` (a lambda path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from gaussequiv import checks

__all__ = ["Fit", "design", "ridge_path", "fit_ridge", "fit_smooth", "fit_hinge", "fit", "fit_path"]


@dataclass(frozen=True, eq=False)
class Fit:
    """A fitted weight vector with its convergence certificate.

    Attributes
    ----------
    w : ndarray, shape (p,)
        The weights.
    converged : bool
        Whether the criterion of the method was met.
    certificate : float
        Square and smooth losses: ``|grad F(w)| / (lam max(1, |w|))``, a bound on the relative weight error
        (``F`` is ``lam``-strongly convex); 0 for the square loss at ``lam = 0`` (the minimum-norm least-squares
        closed form, for which no such bound exists). Hinge: the relative duality gap ``(P - D)/max(1, |P|)``.
    iterations : int
        Optimiser iterations (0 for ridge).
    method : str
        ``"ridge-primal"``, ``"ridge-dual"`` (Cholesky at one ``lam``), ``"ridge-primal-eigh"``,
        ``"ridge-dual-eigh"`` (eigendecomposition: a lambda path, ``lam = 0``, or a system Cholesky found not
        numerically positive definite), ``"lbfgs"``, ``"lbfgs+newton-cg"`` or ``"hinge-dual"``.
    """

    w: np.ndarray
    converged: bool
    certificate: float
    iterations: int
    method: str

    @property
    def status(self) -> str:
        """``"converged"`` or ``"not_converged"``."""
        return "converged" if self.converged else "not_converged"

    def to_dict(self) -> dict:
        """All fields as a plain dictionary."""
        return {"w": np.array(self.w), "converged": self.converged, "status": self.status,
                "certificate": self.certificate, "iterations": self.iterations, "method": self.method}


def design(v, p: int | None = None) -> np.ndarray:
    r"""The design matrix :math:`X = V/\sqrt p` (float64), the one place where features are scaled.

    Examples
    --------
    >>> import numpy as np
    >>> design(np.full((2, 4), 2.0))
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"features must be a 2-d array (n, p), got shape {v.shape}")
    p = v.shape[1] if p is None else int(p)
    if v.shape[1] != p:
        raise ValueError(f"features have {v.shape[1]} columns, expected p = {p}")
    return v / np.sqrt(p)


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as a finite float64 ``(n, p)`` matrix and ``y`` as a finite vector of length ``n``."""
    X = checks.matrix("X", X)
    return X, checks.vector("y", y, size=X.shape[0])


def ridge_path(X, y, lams) -> tuple[np.ndarray, str]:
    r"""Ridge weights :math:`\arg\min_w \tfrac12\|y - Xw\|^2 + \tfrac\lambda2\|w\|^2` for many ``lam``.

    One symmetric eigendecomposition of the smaller of :math:`X^\top X` (primal, ``p x p``) and
    :math:`XX^\top` (dual, ``n x n``) serves every ``lam``. ``lam = 0`` gives the minimum-norm least-squares
    solution (eigenvalues below ``1e-12`` of the largest are treated as zero). At a single ``lam > 0``,
    :func:`fit_ridge` (a Cholesky solve) is about ten times faster.

    Returns
    -------
    W : ndarray, shape (len(lams), p)
    method : str
        ``"ridge-primal-eigh"`` or ``"ridge-dual-eigh"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(3)
    >>> ridge_path(X, np.array([1.0, 2.0, 3.0]), [0.0, 1.0])[0]
    array([[1. , 2. , 3. ],
           [0.5, 1. , 1.5]])
    """
    X, y = _check_xy(X, y)
    lams = checks.grid("lams", lams, low=0.0)
    n, p = X.shape
    if p <= n:
        s, e = np.linalg.eigh(X.T @ X)
        b = e.T @ (X.T @ y)
        method = "ridge-primal-eigh"
    else:
        s, e = np.linalg.eigh(X @ X.T)
        b = e.T @ y
        method = "ridge-dual-eigh"
    s = np.clip(s, 0.0, None)
    null = s <= 1e-12 * max(float(s.max()), np.finfo(float).tiny)
    with np.errstate(divide="ignore"):  # lam = 0 on the null space: the branch np.where discards
        inv = 1.0 / (s[None, :] + lams[:, None])
        inv[:, null] = np.where(lams[:, None] > 0, 1.0 / (s[None, null] + lams[:, None]), 0.0)
    coef = inv * b[None, :]
    W = coef @ e.T if method == "ridge-primal-eigh" else (coef @ e.T) @ X
    return W, method


def _ridge_fit(X, y, w, lam: float, method: str, tol: float) -> Fit:
    """A ridge solution with its certificate ``|X^T(Xw - y) + lam w|/(lam max(1, |w|))`` (0 at ``lam = 0``)."""
    if lam == 0:
        return Fit(w, True, 0.0, 0, method)
    with np.errstate(over="ignore", invalid="ignore"):  # a garbage solution has an infinite or NaN certificate
        grad = X.T @ (X @ w - y) + lam * w
        cert = float(np.linalg.norm(grad)) / (lam * max(1.0, float(np.linalg.norm(w))))
    return Fit(w, bool(np.isfinite(cert) and cert <= tol), cert, 0, method)


def fit_ridge(X, y, lam: float, *, tol: float = 1e-6) -> Fit:
    r"""Ridge at one ``lam``: :math:`\arg\min_w \tfrac12\|y - Xw\|^2 + \tfrac\lambda2\|w\|^2`.

    A Cholesky solve of the smaller system: primal :math:`(X^\top X + \lambda I_p) w = X^\top y` when
    ``p <= n``, else dual :math:`(XX^\top + \lambda I_n) a = y`, :math:`w = X^\top a` (``O(min(n, p)^3/3)``,
    against a full eigendecomposition in :func:`ridge_path`). A system Cholesky finds not numerically
    positive definite (``lam`` far below the rounding of :math:`X^\top X`), and ``lam = 0`` (the minimum-norm
    least-squares solution), go through :func:`ridge_path`.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Design matrix (already scaled, see :func:`design`).
    y : ndarray, shape (n,)
    lam : float
        Penalty ``>= 0``.
    tol : float
        Converged iff the certified relative weight error ``|grad F(w)|/(lam max(1, |w|))`` is at most this
        (``lam > 0``). Its rounding floor is about ``1e-16 |X|^2/lam``.

    Returns
    -------
    Fit

    Examples
    --------
    >>> import numpy as np
    >>> f = fit_ridge(np.eye(2), np.array([2.0, 4.0]), lam=1.0)
    >>> f.w, f.method, f.converged
    (array([1., 2.]), 'ridge-primal', True)
    """
    X, y = _check_xy(X, y)
    lam = checks.real("lam", lam, low=0.0)
    n, p = X.shape
    if lam > 0:
        primal = p <= n
        gram = X.T @ X if primal else X @ X.T
        gram[np.diag_indices_from(gram)] += lam
        try:
            factor = scipy.linalg.cho_factor(gram, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            pass  # not numerically positive definite: the eigendecomposition below
        else:
            if primal:
                w = scipy.linalg.cho_solve(factor, X.T @ y, check_finite=False)
            else:
                w = X.T @ scipy.linalg.cho_solve(factor, y, check_finite=False)
            return _ridge_fit(X, y, w, lam, "ridge-primal" if primal else "ridge-dual", tol)
    W, method = ridge_path(X, y, [lam])
    return _ridge_fit(X, y, W[0], lam, method, tol)


def _objective(loss, X, y, lam):
    def fun(w):
        z = X @ w
        val = float(np.sum(loss(y, z))) + 0.5 * lam * float(w @ w)
        g = X.T @ loss.derivative(y, z) + lam * w
        return val, g
    return fun


def fit_smooth(loss, X, y, lam: float, *, w0=None, tol: float = 1e-6, max_iter: int = 20_000) -> Fit:
    r"""Minimise :math:`\sum_\mu \ell(y^\mu, x^\mu\cdot w) + (\lambda/2)\|w\|^2` for a smooth convex loss.

    L-BFGS (scipy) with the analytic gradient from ``loss(y, z)`` and ``loss.derivative(y, z)``; if the
    certified relative weight error ``|grad F|/(lam max(1, |w|))`` is still above ``tol`` (L-BFGS stalls
    on nearly separable data at small ``lam``), a Newton-CG polish with exact Hessian-vector products
    (``l''`` from :meth:`replica.Loss.second_derivative`, evaluated stably) follows.

    Parameters
    ----------
    loss : replica.Loss
        A convex loss, C¹ in ``z`` (logistic, Huber, any :meth:`replica.Loss.from_expr`).
    X : ndarray, shape (n, p)
        Design matrix (already scaled, see :func:`design`).
    y : ndarray, shape (n,)
    lam : float
        Penalty ``> 0``.
    w0 : ndarray, optional
        Warm start.
    tol : float
        Target of the certified relative weight error (default 1e-6). The certificate has a floating-point
        floor that grows like ``1/lam`` (about 1e-8 at ``lam = 1e-2``, ``n = 1e4``, ``p = 1e3``, and
        dependent on the BLAS's summation order), so do not ask for much less than 1e-7.

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Loss
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 5)); y = np.sign(X[:, 0])
    >>> f = fit_smooth(Loss.logistic(), X, y, lam=1.0)
    >>> f.converged, f.certificate < 1e-7
    (True, True)
    """
    from scipy.optimize import minimize  # here: scipy.optimize is not loaded with validation (issue 13)

    X, y = _check_xy(X, y)
    lam = checks.real("lam", lam, low=0.0, low_open=True)
    p = X.shape[1]
    w = np.zeros(p) if w0 is None else np.array(w0, dtype=float)
    if w.shape != (p,) or not np.all(np.isfinite(w)):
        w = np.zeros(p)
    fun = _objective(loss, X, y, lam)

    def cert(w):
        return float(np.linalg.norm(fun(w)[1])) / (lam * max(1.0, float(np.linalg.norm(w))))

    # L-BFGS-B's own stop is on the max-norm of the gradient; aim it at the certified bound
    gtol = 0.1 * tol * lam / np.sqrt(p)
    res = minimize(fun, w, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "maxcor": 20, "ftol": 0.0, "gtol": gtol})
    w, its, method = res.x, int(res.nit), "lbfgs"
    c = cert(w)
    if not c <= tol:
        def hessp(w, v):
            return X.T @ (loss.second_derivative(y, X @ w) * (X @ v)) + lam * v

        res2 = minimize(lambda w: fun(w)[0], w, jac=lambda w: fun(w)[1], hessp=hessp, method="Newton-CG",
                        options={"xtol": 1e-14, "maxiter": 200})
        if np.all(np.isfinite(res2.x)) and cert(res2.x) < c:
            w, c = res2.x, cert(res2.x)
        its += int(res2.nit)
        method = "lbfgs+newton-cg"
    return Fit(w, bool(np.isfinite(c) and c <= tol), c, its, method)


def fit_hinge(X, y, lam: float, *, a0=None, tol: float = 1e-8, max_iter: int = 50_000) -> Fit:
    r"""Hinge-loss ERM :math:`\sum_\mu \max(0, 1 - y^\mu x^\mu\cdot w) + (\lambda/2)\|w\|^2` via its dual.

    The dual is :math:`\max_{a \in [0,1]^n} \sum_\mu a_\mu - \|X^\top(a\circ y)\|^2/(2\lambda)`, with
    :math:`w = X^\top(a\circ y)/\lambda`; it is solved by L-BFGS-B. Converged when the relative duality gap
    ``(P(w) - D(a))/max(1, |P(w)|)`` is below ``tol``, a certificate that does not rely on the optimiser.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Design matrix (already scaled, see :func:`design`).
    y : ndarray, shape (n,)
        Labels ``-1`` and ``+1``.
    lam : float
        Penalty ``> 0``.
    a0 : ndarray, shape (n,), optional
        Dual warm start (clipped to ``[0, 1]``).
    tol : float
        Target of the relative duality gap (default 1e-8). Because ``P`` is ``lam``-strongly convex, the gap
        also bounds the weights: ``|w - w*|^2 <= 2 (P - D)/lam``.
    max_iter : int
        L-BFGS-B iterations.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 4)); y = np.sign(X[:, 0] + 0.3 * rng.standard_normal(40))
    >>> f = fit_hinge(X, y, lam=1.0)
    >>> f.converged, f.method
    (True, 'hinge-dual')
    """
    from scipy.optimize import minimize  # here: scipy.optimize is not loaded with validation (issue 13)

    X, y = _check_xy(X, y)
    lam = checks.real("lam", lam, low=0.0, low_open=True)
    if not np.all(np.abs(y) == 1):
        raise ValueError("the hinge loss needs labels y in {-1, +1}")
    n = X.shape[0]
    Xy = X * y[:, None]

    def neg_dual(a):
        u = Xy.T @ a
        return 0.5 * float(u @ u) / lam - float(a.sum()), Xy @ u / lam - 1.0

    a = np.full(n, 0.5) if a0 is None else np.clip(np.asarray(a0, float), 0, 1)
    res = minimize(neg_dual, a, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * n,
                   options={"maxiter": max_iter, "ftol": 0.0, "gtol": 1e-12, "maxcor": 30})
    def gap_of(a):
        w = Xy.T @ a / lam
        primal = float(np.sum(np.maximum(0.0, 1.0 - Xy @ w))) + 0.5 * lam * float(w @ w)
        return w, (primal + neg_dual(a)[0]) / max(1.0, abs(primal))

    a = res.x
    w, gap = gap_of(a)
    # polish: solve the KKT system exactly on the free set (0 < a < 1) that L-BFGS-B identified
    free = (a > 1e-9) & (a < 1 - 1e-9)
    if free.any():
        a_new = np.where(a >= 0.5, 1.0, 0.0)
        a_new[free] = 0.0
        rhs = lam - Xy[free] @ (Xy.T @ a_new)
        sol, *_ = np.linalg.lstsq(Xy[free] @ Xy[free].T, rhs, rcond=None)
        a_new[free] = sol
        if np.all((sol >= -1e-12) & (sol <= 1 + 1e-12)):
            a_new = np.clip(a_new, 0.0, 1.0)
            w_new, gap_new = gap_of(a_new)
            if gap_new < gap:
                a, w, gap = a_new, w_new, gap_new
    return Fit(w, bool(np.isfinite(gap) and gap <= tol), float(gap), int(res.nit), "hinge-dual")


def fit(loss, X, y, lam: float, *, w0=None, tol: float = 1e-6) -> Fit:
    """Fit by the route the loss needs: ridge (Cholesky), hinge dual, or L-BFGS for smooth losses.

    ``tol`` reaches every route and bounds its certificate
    (:attr:`Fit.certificate`): the certified relative weight error ``|grad F(w)|/(lam max(1, |w|))`` for the
    square and smooth losses (:func:`fit_ridge`, :func:`fit_smooth`), the relative duality gap
    ``(P - D)/max(1, |P|)`` for the hinge (:func:`fit_hinge`). ``w0`` warm-starts the smooth losses; the
    hinge's dual starts from ``a = 1/2`` (a dual start read off the primal ``w0``'s margins was measured to
    leave L-BFGS-B further from the optimum at small ``lam``, so it is not used).

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Loss
    >>> fit(Loss.square(), np.eye(2), np.array([2.0, 4.0]), lam=1.0).w
    array([1., 2.])
    """
    if getattr(loss, "is_square", False):
        return fit_ridge(X, y, lam, tol=tol)
    route = _NONSMOOTH.get(getattr(loss, "name", None))
    if route is not None:
        return route(X, y, lam, tol=tol)
    return fit_smooth(loss, X, y, lam, w0=w0, tol=tol)


def fit_path(loss, X, y, lams, *, w0=None, tol: float = 1e-6) -> list[Fit]:
    """Fits of one training set at each ``lam`` (a lambda path), in the order given.

    The square loss takes one eigendecomposition for the whole path (:func:`ridge_path`), each fit with its
    certificate; other losses go through :func:`fit`, each warm-started from the previous ``lam``'s weights
    (order ``lams`` from large to small for the best warm starts).

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Loss
    >>> [f.w.tolist() for f in fit_path(Loss.square(), np.eye(2), np.array([2.0, 4.0]), [1.0, 3.0])]
    [[1.0, 2.0], [0.5, 1.0]]
    """
    lams = checks.grid("lams", lams, low=0.0)
    if getattr(loss, "is_square", False) and lams.size > 1:
        X, y = _check_xy(X, y)
        W, method = ridge_path(X, y, lams)
        return [_ridge_fit(X, y, w, float(lam), method, tol) for w, lam in zip(W, lams, strict=True)]
    out = []
    for lam in lams:
        res = fit(loss, X, y, float(lam), w0=w0, tol=tol)
        w0 = res.w
        out.append(res)
    return out


#: Losses whose kinks need a dedicated solver (Huber is C¹ and goes through L-BFGS).
_NONSMOOTH = {"hinge": fit_hinge}
