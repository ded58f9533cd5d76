"""Independent references for the dynamics tests: the classic soft-committee ODEs (Saad & Solla 1995; Goldt et
al. 2019), written without the spectral code's regression on pairs of fields."""

import math

import numpy as np


# --- the classic soft-committee ODEs, written independently (Saad & Solla 1995; Goldt et al. 2019) --------
# Order parameters Q (K x K), R (K x M), T (M x M) and second layers v, A; g(z) = erf(z/sqrt 2). The
# integrals are written for explicit lists of (covariance-row) fields, in the 1-based notation of the papers,
# and I3 takes three *distinct roles* (no regression onto pairs, no determinants): this is the form that
# the per-mode equations must reduce to when Omega = Phi = I and D = N (theory §4.6, §6.1).
def _cov(Q, R, T, f1, f2):
    (s1, i1), (s2, i2) = f1, f2
    if s1 == "s" and s2 == "s":
        return Q[i1][i2]
    if s1 == "s" and s2 == "t":
        return R[i1][i2]
    if s1 == "t" and s2 == "s":
        return R[i2][i1]
    return T[i1][i2]


def _classic_i2(Q, R, T, f1, f2):
    c11, c22, c12 = _cov(Q, R, T, f1, f1), _cov(Q, R, T, f2, f2), _cov(Q, R, T, f1, f2)
    return 2 / math.pi * math.asin(c12 / math.sqrt((1 + c11) * (1 + c22)))


def _classic_i3(Q, R, T, f1, f2, f3):
    c = [[_cov(Q, R, T, a, b) for b in (f1, f2, f3)] for a in (f1, f2, f3)]
    lam3 = (1 + c[0][0]) * (1 + c[2][2]) - c[0][2] ** 2
    return 2 / math.pi / math.sqrt(lam3) * (c[1][2] * (1 + c[0][0]) - c[0][1] * c[0][2]) / (1 + c[0][0])


def _classic_i4(Q, R, T, f1, f2, f3, f4):
    fs = (f1, f2, f3, f4)
    C = [[None] * 5 for _ in range(5)]
    for a in range(4):
        for b in range(4):
            C[a + 1][b + 1] = _cov(Q, R, T, fs[a], fs[b])
    lam4 = (1 + C[1][1]) * (1 + C[2][2]) - C[1][2] ** 2
    lam0 = (lam4 * C[3][4] - C[2][3] * C[2][4] * (1 + C[1][1]) - C[1][3] * C[1][4] * (1 + C[2][2])
            + C[1][2] * C[1][3] * C[2][4] + C[1][2] * C[1][4] * C[2][3])
    lam1 = lam4 * (1 + C[3][3]) - C[2][3] ** 2 * (1 + C[1][1]) - C[1][3] ** 2 * (1 + C[2][2]) \
        + 2 * C[1][2] * C[1][3] * C[2][3]
    lam2 = lam4 * (1 + C[4][4]) - C[2][4] ** 2 * (1 + C[1][1]) - C[1][4] ** 2 * (1 + C[2][2]) \
        + 2 * C[1][2] * C[1][4] * C[2][4]
    return 4 / math.pi**2 / math.sqrt(lam4) * math.asin(lam0 / math.sqrt(lam1 * lam2))


def classic_rhs(Q, R, T, v, A, eta):
    K, M = len(v), len(A)
    S = [("s", k) for k in range(K)]
    Te = [("t", m) for m in range(M)]
    dR = [[0.0] * M for _ in range(K)]
    dQ = [[0.0] * K for _ in range(K)]
    dv = [0.0] * K
    for i in range(K):
        for n in range(M):
            dR[i][n] = eta * v[i] * (sum(A[m] * _classic_i3(Q, R, T, S[i], Te[n], Te[m]) for m in range(M))
                                     - sum(v[j] * _classic_i3(Q, R, T, S[i], Te[n], S[j]) for j in range(K)))
    for i in range(K):
        for k in range(K):
            lin = 0.0
            for a, b in ((i, k), (k, i)):
                lin += eta * v[a] * (sum(A[m] * _classic_i3(Q, R, T, S[a], S[b], Te[m]) for m in range(M))
                                     - sum(v[j] * _classic_i3(Q, R, T, S[a], S[b], S[j]) for j in range(K)))
            quad = (sum(A[n] * A[m] * _classic_i4(Q, R, T, S[i], S[k], Te[n], Te[m])
                        for n in range(M) for m in range(M))
                    - 2 * sum(v[j] * A[m] * _classic_i4(Q, R, T, S[i], S[k], S[j], Te[m])
                              for j in range(K) for m in range(M))
                    + sum(v[j] * v[l] * _classic_i4(Q, R, T, S[i], S[k], S[j], S[l])
                          for j in range(K) for l in range(K)))
            dQ[i][k] = lin + eta**2 * v[i] * v[k] * quad
    for i in range(K):
        dv[i] = eta * (sum(A[n] * _classic_i2(Q, R, T, S[i], Te[n]) for n in range(M))
                       - sum(v[j] * _classic_i2(Q, R, T, S[i], S[j]) for j in range(K)))
    return np.array(dQ), np.array(dR), np.array(dv)


def classic_euler(Q, R, T, v, A, eta, dt, n_steps, train_second_layer):
    Q, R, v = np.array(Q, float), np.array(R, float), np.array(v, float)
    for _ in range(n_steps):
        dQ, dR, dv = classic_rhs(Q.tolist(), R.tolist(), T.tolist(), v.tolist(), A.tolist(), eta)
        Q, R = Q + dt * dQ, R + dt * dR
        if train_second_layer:
            v = v + dt * dv
    return Q, R, v
