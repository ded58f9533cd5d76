"""Online SGD on generator data (theory §4.1) and its agreement with the ODEs (theory §6.1)."""

import numpy as np
import pytest

from dynamics import IsotropicInputs, Setup, Student, integrate, simulate_sgd, simulate_sgd_seeds
from gaussequiv import seeding
from spectra.analytic import single_layer_covariances
from spectra.generators import SingleLayer
from spectra.teachers import CommitteeTeacher


def sign_problem(N, D, seed=0, K=2, M=2):
    gen = SingleLayer(D, N, "sign", seed=seed)
    teacher = CommitteeTeacher.random(M, D, seed=seed + 1)
    student = Student.random(K, N, seed=seed + 2)
    omega, phi = single_layer_covariances(gen.weights, "sign")
    return gen, teacher, student, omega, phi


def test_one_step_follows_the_update_rule():
    """One SGD step equals the update of theory §4.1 computed by hand from the same sample:
    w_k += (eta/sqrt N) delta_k x, v_k -= (eta/N) Delta g(lambda_k), with t = 1/N after one step."""
    from scipy.special import erf

    N, D, eta, seed = 50, 10, 0.7, 3
    gen, teacher, student, omega, phi = sign_problem(N, D)
    sim = simulate_sgd(gen, teacher, student, eta, 1.0 / N, seed=seed, n_test=10, times=[0.0, 1.0 / N])
    c = np.random.default_rng(seeding.stream(seed, "sgd-train")).standard_normal((1, D))
    x = np.asarray(gen(c), dtype=float)[0]
    y = float(teacher(c)[0])
    w, v = student.w.copy(), student.v.copy()
    lam = w @ x / np.sqrt(N)
    g = erf(lam / np.sqrt(2))
    Delta = v @ g - y
    dk = -v * np.sqrt(2 / np.pi) * np.exp(-lam**2 / 2) * Delta
    w_new = w + eta / np.sqrt(N) * dk[:, None] * x[None, :]
    v_new = v - eta / N * Delta * g
    assert sim.t.tolist() == [0.0, 1.0 / N]
    np.testing.assert_allclose(sim.Q[-1], w_new @ omega @ w_new.T / N, rtol=1e-12)
    np.testing.assert_allclose(sim.R[-1], w_new @ phi @ teacher.B.T / np.sqrt(N * D), rtol=1e-12)
    np.testing.assert_allclose(sim.v[-1], v_new, rtol=1e-12)


def test_reproducible_and_seed_dependent():
    """The same seed gives identical runs; another seed gives a different run; the student is not modified."""
    gen, teacher, student, omega, phi = sign_problem(40, 8)
    w0 = student.w.copy()
    kw = dict(seed=5, n_test=50, times=[0.0, 1.0, 2.0], omega=omega, phi=phi)
    a = simulate_sgd(gen, teacher, student, 0.5, 2.0, **kw)
    b = simulate_sgd(gen, teacher, student, 0.5, 2.0, **kw)
    c = simulate_sgd(gen, teacher, student, 0.5, 2.0, **{**kw, "seed": 6})
    np.testing.assert_array_equal(a.Q, b.Q)
    np.testing.assert_array_equal(a.eps_g_mc, b.eps_g_mc)
    assert not np.allclose(a.Q[-1], c.Q[-1])
    np.testing.assert_array_equal(student.w, w0)
    assert a.info["covariances"] == "given"


def test_eps_g_monte_carlo_matches_order_parameters_at_start():
    """At t = 0 the Monte Carlo eps_g on 20000 fresh samples agrees with eps_g(Q, R) within 5 standard errors
    plus the finite-N Gaussian-equivalence gap, bounded here by 5% (theory §7: the gap is reported, not
    assumed zero)."""
    gen, teacher, student, omega, phi = sign_problem(300, 30)
    sim = simulate_sgd(gen, teacher, student, 0.5, 0.01, seed=1, n_test=20_000, times=[0.0])
    assert abs(sim.eps_g_mc[0] - sim.eps_g[0]) < 5 * sim.eps_g_mc_err[0] + 0.05 * sim.eps_g[0]


def _ode_vs_sgd(N, D, eta, t_max, times, n_runs, n_test):
    gen, teacher, student, omega, phi = sign_problem(N, D)
    setup = Setup.from_network(student, teacher, omega=omega, phi=phi, eta=eta)
    ode = integrate(setup, t_max, times=times)
    runs = [simulate_sgd(gen, teacher, student, eta, t_max, seed=100 + s, n_test=n_test, times=times,
                         omega=omega, phi=phi) for s in range(n_runs)]
    eps = np.array([r.eps_g for r in runs])
    return setup, ode, eps.mean(0), eps.std(0, ddof=1) / np.sqrt(n_runs)


def test_ode_matches_sgd_single_layer_sign_fast():
    """ODE against online SGD (theory §6.1) on a single-layer sign generator, N = 300, D = 30, K = M = 2,
    eta = 0.5, to t = 50, from the same initial weights: the mean eps_g of 8 SGD runs is within
    4 standard errors + 2% of the ODE at every time. The criterion has power: the same ODE with delta
    off by a factor 2 (the reference integrator's pitfall, theory §4.6) violates it."""
    times = np.array([0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0])
    setup, ode, mean, sem = _ode_vs_sgd(300, 30, 0.5, 50.0, times, n_runs=8, n_test=100)
    assert ode.converged
    ok = np.abs(mean - ode.eps_g) <= 4 * sem + 0.02 * ode.eps_g
    assert ok.all(), (ode.eps_g, mean, sem)
    wrong = Setup(**{**{f: getattr(setup, f) for f in ("eigenvalues", "student_proj", "teacher_proj", "v", "A",
                                                         "T", "eta")}, "latent_dim": 2 * setup.latent_dim})
    bad = integrate(wrong, 50.0, times=times)
    assert not (np.abs(mean - bad.eps_g) <= 4 * sem + 0.02 * bad.eps_g).all()


@pytest.mark.slow
def test_ode_matches_sgd_single_layer_sign_paper_scale():
    """Issue 5 acceptance (theory §6.1): N = 1000, D = 100, K = M = 2, eta = 0.5, to t = 50: the mean eps_g
    of 20 SGD runs from the ODE's initial state is within 5 standard errors + 1% of the ODE at every time t >= 1,
    and the same ODE with delta off by a factor 2 is not.

    Why not a fixed 3%: the standard error of the mean grows to ~1.2% of eps_g at late times, so a 3% cut is 2.5
    SE and failed at some seeds (measured: 4.6% = 3.9 SE at t = 40). 5 SE (t with 19 degrees of freedom: 8e-5 per
    time, < 1e-3 over the 11 times) plus a 1% finite-N allowance (half the N = 300 test's 2%: the ODE is exact as
    N -> infinity and the deviation shrinks with N)."""
    times = np.array([0.0, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0])
    setup, ode, mean, sem = _ode_vs_sgd(1000, 100, 0.5, 50.0, times, n_runs=20, n_test=100)
    ok = np.abs(mean - ode.eps_g) <= 5 * sem + 0.01 * ode.eps_g
    assert ok[1:].all(), (np.abs(mean - ode.eps_g) / ode.eps_g, sem / ode.eps_g)
    wrong = Setup(**{**{f: getattr(setup, f) for f in ("eigenvalues", "student_proj", "teacher_proj", "v", "A",
                                                         "T", "eta")}, "latent_dim": 2 * setup.latent_dim})
    bad = integrate(wrong, 50.0, times=times)
    assert not (np.abs(mean - bad.eps_g) <= 5 * sem + 0.01 * bad.eps_g)[1:].all()


def test_generator_without_symmetric_mean_requires_mean():
    """A relu generator is not centred by symmetry: simulate_sgd refuses to guess its mean (theory §1.1)."""
    gen = SingleLayer(8, 20, "relu", seed=0)
    teacher = CommitteeTeacher.random(2, 8, seed=1)
    student = Student.random(2, 20, seed=2)
    with pytest.raises(ValueError, match="mean"):
        simulate_sgd(gen, teacher, student, 0.5, 1.0, seed=0, n_test=10, omega=np.eye(20),
                     phi=np.zeros((20, 8)))
    with pytest.raises(ValueError, match="omega and phi are required"):
        simulate_sgd(gen, teacher, student, 0.5, 1.0, seed=0, n_test=10, mean=np.zeros(20))


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"seed": None}, TypeError, "seed"),
        ({"seed": -1}, ValueError, "seed"),
        ({"eta": 0.0}, ValueError, "eta"),
        ({"t_max": -1.0}, ValueError, "t_max"),
        ({"n_test": 1}, ValueError, "n_test"),
        ({"omega": np.eye(20)}, ValueError, "both"),
        ({"omega": np.eye(19), "phi": np.zeros((20, 8))}, ValueError, "omega"),
        ({"mean": np.zeros(3)}, ValueError, "mean"),
        ({"student": Student.random(2, 21, seed=0)}, ValueError, "student.w"),
        ({"student": "net"}, TypeError, "Student"),
        ({"teacher": CommitteeTeacher.random(2, 9, seed=0)}, ValueError, "teacher.B"),
        ({"teacher": CommitteeTeacher.random(2, 8, seed=0, activation="linear")}, ValueError, "share g"),
        ({"generator": object()}, TypeError, "generator"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_simulate_sgd_bad_input(kwargs, exc, match):
    """Every bad argument of simulate_sgd raises, naming it."""
    args = dict(generator=SingleLayer(8, 20, "sign", seed=0), teacher=CommitteeTeacher.random(2, 8, seed=1),
                student=Student.random(2, 20, seed=2), eta=0.5, t_max=1.0, seed=0, n_test=10)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        simulate_sgd(**args)


def test_divergent_sgd_ends_with_failed_status():
    """A learning rate far beyond stability blows the weights up: the run stops with status 'failed' instead
    of reporting NaN as a number."""
    gen, teacher, student, omega, phi = sign_problem(40, 8)
    with np.errstate(all="ignore"):
        sim = simulate_sgd(gen, teacher, student, 1e6, 5.0, seed=0, n_test=10, times=np.linspace(0, 5, 11))
    assert sim.status == "failed" and not sim.converged
    assert np.all(np.isfinite(sim.eps_g))


class _LinearGenerator:
    """Test double x = F c (a linear generator; spectra has none): only latent_dim, output_dim, __call__."""

    def __init__(self, F):
        self.F = F
        self.output_dim, self.latent_dim = F.shape

    def __call__(self, c):
        return np.asarray(c) @ self.F.T


def test_ode_matches_sgd_linear_generator():
    """Theory §6.1: for x = F c the Gaussian closure is exact up to chi_i^2 -> s_i, so ODE and SGD agree up
    to O(N^-1/2) fluctuations, isolating integrator errors from Gaussian-equivalence errors. N = 300,
    D = 150, eta = 0.5, to t = 50: the mean of 8 runs is within 4 standard errors + 1% of the ODE."""
    N, D, eta = 300, 150, 0.5
    F = np.random.default_rng(0).standard_normal((N, D)) / np.sqrt(D)
    gen = _LinearGenerator(F)
    teacher = CommitteeTeacher.random(2, D, seed=1)
    student = Student.random(2, N, seed=2)
    omega = F @ F.T
    times = np.array([0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0])
    ode = integrate(Setup.from_network(student, teacher, omega=omega, phi=F, eta=eta), 50.0, times=times)
    eps = np.array([simulate_sgd(gen, teacher, student, eta, 50.0, seed=s, n_test=100, times=times, omega=omega,
                                 phi=F, mean=np.zeros(N)).eps_g for s in range(8)])
    mean, sem = eps.mean(0), eps.std(0, ddof=1) / np.sqrt(len(eps))
    assert np.all(np.abs(mean - ode.eps_g) <= 4 * sem + 0.01 * ode.eps_g), (ode.eps_g, mean, sem)
    assert ode.eps_g[-1] < 0.05 * ode.eps_g[0]  # it learned: the comparison is not between flat curves


def test_simulate_progress_bar(capsys):
    """progress=True shows a tqdm bar on stderr and does not change the run."""
    gen, teacher, student, omega, phi = sign_problem(30, 6)
    a = simulate_sgd(gen, teacher, student, 0.5, 1.0, seed=1, n_test=10, times=[0.0, 1.0], progress=True)
    b = simulate_sgd(gen, teacher, student, 0.5, 1.0, seed=1, n_test=10, times=[0.0, 1.0], progress=False)
    np.testing.assert_array_equal(a.Q, b.Q)
    assert "online SGD" in capsys.readouterr().err


def test_simulate_sgd_seeds_is_the_average_of_independent_runs():
    """simulate_sgd_seeds: run j is exactly simulate_sgd with the 'sgd-run-j' stream of the seed
    (gaussequiv.seeding), the mean and SE are numpy's mean and std(ddof=1)/sqrt(seeds) over the runs, every
    run starts from the same state (SE 0 at t = 0 up to round-off) and the runs differ afterwards; the flat
    to_dict has equal-length columns."""
    gen, teacher, student, omega, phi = sign_problem(40, 8)
    times = [0.0, 1.0, 2.0]
    avg = simulate_sgd_seeds(gen, teacher, student, 0.5, 2.0, seeds=3, seed=7, n_test=50, times=times)
    assert avg.seeds == 3 and avg.converged and avg.status == "completed"
    for j, run in enumerate(avg.runs):
        ref = simulate_sgd(gen, teacher, student, 0.5, 2.0, seed=seeding.stream(7, f"sgd-run-{j}"), n_test=50,
                           times=times)
        np.testing.assert_array_equal(run.eps_g, ref.eps_g)
        np.testing.assert_array_equal(avg.eps_g_runs[j], ref.eps_g)
        np.testing.assert_array_equal(avg.eps_g_mc_runs[j], ref.eps_g_mc)
    np.testing.assert_allclose(avg.eps_g_mean, avg.eps_g_runs.mean(0), rtol=1e-15)
    np.testing.assert_allclose(avg.eps_g_se, avg.eps_g_runs.std(0, ddof=1) / np.sqrt(3), rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(avg.eps_g_mc_se, avg.eps_g_mc_runs.std(0, ddof=1) / np.sqrt(3), rtol=1e-12)
    assert avg.eps_g_se[0] < 1e-12 * avg.eps_g_mean[0] and np.all(avg.eps_g_se[1:] > 0)
    d = avg.to_dict()
    assert {len(v) for v in d.values()} == {3}
    assert d["seeds"] == [3] * 3 and d["converged"] == [True] * 3 and "eps_g_seed_2" in d
    assert avg.info["covariances"].startswith("exact")
    again = simulate_sgd_seeds(gen, teacher, student, 0.5, 2.0, seeds=3, seed=7, n_test=50, times=times)
    np.testing.assert_array_equal(again.eps_g_runs, avg.eps_g_runs)  # reproducible


def test_simulate_sgd_seeds_failed_run_is_a_status_not_a_mean():
    """A diverging learning rate: every run fails; the average is 'failed', names the runs, and reports nothing past
    the failures: t ends before t_max, each run is finite up to its own failure and NaN after it (runs may fail at
    different times, whatever the seed), and the mean is NaN wherever a run is (never an average of survivors).
    seeds < 2 is refused (no error bars)."""
    gen, teacher, student, omega, phi = sign_problem(30, 6)
    with np.errstate(all="ignore"):
        avg = simulate_sgd_seeds(gen, teacher, student, 1e6, 5.0, seeds=2, seed=0, n_test=10,
                                 times=np.linspace(0, 5, 11))
    assert avg.status == "failed" and not avg.converged and "run 0" in avg.message and "run 1" in avg.message
    assert avg.t[-1] < 5.0
    for j, run in enumerate(avg.runs):
        assert np.all(np.isfinite(avg.eps_g_runs[j, : run.t.size]))
        assert np.all(np.isnan(avg.eps_g_runs[j, run.t.size:]))
    assert np.array_equal(np.isnan(avg.eps_g_mean), np.isnan(avg.eps_g_runs).any(axis=0))
    with pytest.raises(ValueError, match="seeds"):
        simulate_sgd_seeds(gen, teacher, student, 0.5, 1.0, seeds=1, seed=0)
    with pytest.raises(TypeError, match="seed"):
        simulate_sgd_seeds(gen, teacher, student, 0.5, 1.0, seeds=2, seed=None)


def test_isotropic_inputs_simulation_defaults():
    """IsotropicInputs (x = c, D = N) needs no covariances or mean: Omega = Phi = I and the mean 0 are exact,
    so the measured R is W B^T / N; one step follows the update rule with x = c."""
    N = 20
    teacher = CommitteeTeacher.random(2, N, seed=1)
    student = Student.random(2, N, seed=2)
    sim = simulate_sgd(IsotropicInputs(N), teacher, student, 0.5, 1.0, seed=0, n_test=20, times=[0.0, 1.0])
    assert sim.info["covariances"].startswith("exact (isotropic")
    np.testing.assert_allclose(sim.R[0], student.w @ teacher.B.T / N, rtol=1e-12)
    np.testing.assert_allclose(sim.Q[0], student.w @ student.w.T / N, rtol=1e-12)
