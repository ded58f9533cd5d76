"""Formula strings are data, not code: the whitelist parser of replica._symbolic, through every entry point
that takes a formula (Loss.from_expr, Channel.from_likelihood, ``gaussequiv predict --loss-expr``)."""

import os

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from gaussequiv.cli import main
from replica import Channel, Loss
from replica._symbolic import MAX_DEPTH, MAX_LENGTH, Y, Z, lambdify_safe, parse_expression
from spectra import Spectrum

TOUCH = "__import__('pathlib').Path('MARKER').touch()"
OPEN = "open('MARKER', 'w')"

#: (hostile formula, fragment the error message must contain: the offending token or the limit)
HOSTILE = [
    (f"(y - z)**2/2 + 0*{TOUCH}", "calling"),
    ("(y-z)**2/2 + 0*__import__('os').system('touch MARKER')", "__import__('os').system"),
    ("__import__('os')", "unknown function '__import__'"),
    ("z.__class__.__mro__", "attribute access 'z.__class__.__mro__'"),
    ("pi.evalf.__globals__", "attribute access"),
    ("__builtins__", "unknown symbols: '__builtins__'"),
    ("__name__", "unknown symbols: '__name__'"),
    (f"(lambda: {OPEN})()", "calling"),
    (f"lambda: {OPEN}", "lambda"),
    ("import os", "cannot parse"),
    ("z; import os", "cannot parse"),
    (OPEN, "unknown function 'open'"),
    ("eval('1') * z", "unknown function 'eval'"),
    ("exec('x = 1')", "unknown function 'exec'"),
    ("getattr(z, 'func')", "unknown function 'getattr'"),
    ("sympify('z')", "unknown function 'sympify'"),
    ("Symbol('q')", "unknown function 'Symbol'"),
    ("().__class__.__bases__[0].__subclasses__()", "calling"),
    ("z[0]", "subscript 'z[0]'"),
    ("exp(z)[::2]", "subscript"),
    (f"[{OPEN} for _ in (1,)]", "comprehension"),
    (f"sum({OPEN} for _ in (1,))", "unknown function 'sum'"),
    (f"exp({OPEN} for _ in (1,))", "comprehension"),
    ("'z'", "string literal"),
    ("b'z'", "bytes literal"),
    ("exp(x=z)", "keyword argument 'x=z'"),
    ("exp(z, **{'a': 1})", "keyword argument"),
    ("exp(*[z])", "starred argument '*[z]'"),
    ("Max(*(z, y))", "starred argument"),
    (f"f'{{{OPEN}}}'", "f-string"),
    ("(m := z) * m", "assignment expression"),
    ("z if y else 1", "conditional expression"),
    ("z < 1", "comparison"),
    ("z and y", "boolean operator"),
    ("not z", "operator not"),
    ("z ^ 2", "^ (write powers as **)"),
    ("z // 2", "operator //"),
    ("z % 2", "operator %"),
    ("z @ y", "operator @"),
    ("1j * z", "complex number '1j'"),
    ("True * z", "boolean 'True'"),
    ("None", "NoneType"),
    ("{z}", "set"),
    ("{'a': z}", "dict"),
    ("(z, y)", "tuple"),
    ("[z]", "list"),
    ("exp", "'exp' at column 1 is a function"),
    ("exp(z)(y)", "calling 'exp(z)'"),
    ("exp(z, y)", "exp takes 1 argument(s), got 2"),
    ("z\x00", "null bytes"),
    ("z + 1e999", "non-finite number '1e999'"),
    ("10**10**10", "beyond the range of a double"),
    ("9**9**9 * z", "beyond the range of a double"),
    ("exp(2**9999) - 1.0", "(2)**(9999) is beyond the range of a double"),
    ("exp(1e4) * z", "'exp(1e4)' at column 1 is not a finite real double"),
    ("1/0 * z", "'1/0 * z' at column 1 is not a finite real number"),
    ("z + 0.5/0.0", "0.5/0.0"),
    ("sqrt(-1) * z", "'sqrt(-1)' at column 1 is not a finite real number"),
    ("erfc(1e308) + z", "erfc(1e308)"),
    ("9" * 400 + " * z", "is not a finite real double"),
    ("z" + "+z" * 50_000, f"at most {MAX_LENGTH}"),
    ("9" * 5_000, f"at most {MAX_LENGTH}"),
    ("(" * 150 + "z" + ")" * 150, f"at most {MAX_DEPTH}"),
    ("-" * 1_900 + "z", f"at most {MAX_DEPTH}"),
    ("exp(" * 60 + "z" + ")" * 60, f"at most {MAX_DEPTH}"),
    ("z**" * 600 + "z", f"more than {MAX_DEPTH}"),
    ("sin(" * (MAX_DEPTH // 2) + "-" * (MAX_DEPTH // 2 + 2) + "z" + ")" * (MAX_DEPTH // 2), "nested"),
]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Run in an empty directory; the test fails if a formula created the marker file there."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / "MARKER").exists(), "a formula string was executed"


def test_the_marker_detects_execution(sandbox):
    """Control: the payloads of HOSTILE do create the marker when Python runs them, so its absence after
    parsing means the parser ran nothing (the fixture then must fail: we remove the file ourselves)."""
    exec(compile(TOUCH, "<payload>", "eval"))  # noqa: S102 - the deliberate control
    assert (sandbox / "MARKER").exists()
    os.remove(sandbox / "MARKER")


@pytest.mark.parametrize("text,fragment", HOSTILE, ids=[repr(h[:24]) for h, _ in HOSTILE])
def test_hostile_formulas_are_refused_without_side_effects(sandbox, text, fragment):
    """Each hostile string raises ValueError naming the offending token (or the documented limit), in
    Loss.from_expr and Channel.from_likelihood alike, and creates no file. pytest.raises(ValueError) does
    not catch RecursionError or MemoryError, so deep or long input must be refused, not crash."""
    for build in (Loss.from_expr, Channel.from_likelihood):
        with pytest.raises(ValueError) as info:
            build(text)
        assert fragment in str(info.value), str(info.value)
        assert str(info.value).startswith("expr: ")


def test_the_cli_refuses_a_hostile_loss_formula(sandbox, capsys):
    """``gaussequiv predict --loss-expr`` with a payload: exit code 2, the offending call named, no file."""
    Spectrum.isotropic(8).save(sandbox / "spec.npz")
    code = main(["predict", "--spectrum", str(sandbox / "spec.npz"), "--loss-expr",
                 f"log(1 + exp(-y*z)) + 0*{TOUCH}", "--alphas", "1.0", "--out", str(sandbox / "c.csv")])
    assert code == 2
    assert "calling" in capsys.readouterr().err
    assert not (sandbox / "c.csv").exists()


def test_the_cli_accepts_a_valid_loss_formula(sandbox, capsys):
    """The same option with a valid formula (erf included) writes its curve; the reference is the
    built-in logistic loss, which the formula equals up to 0*erf(z)."""
    Spectrum.isotropic(8).save(sandbox / "spec.npz")
    code = main(["predict", "--spectrum", str(sandbox / "spec.npz"), "--loss-expr",
                 "log(1 + exp(-y*z)) + 0*erf(z)", "--alphas", "1.0", "--out", str(sandbox / "c.csv")])
    assert code == 0, capsys.readouterr().err
    ref = main(["predict", "--spectrum", str(sandbox / "spec.npz"), "--loss", "logistic", "--alphas", "1.0",
                "--out", str(sandbox / "r.csv")])
    assert ref == 0
    a = np.genfromtxt(sandbox / "c.csv", delimiter=",", names=True)
    b = np.genfromtxt(sandbox / "r.csv", delimiter=",", names=True)
    assert float(a["test_error"]) == pytest.approx(float(b["test_error"]), rel=1e-8)


def test_limits_are_inclusive():
    """A formula of exactly MAX_LENGTH characters and one nested exactly MAX_DEPTH levels are accepted;
    one more character or level is refused (reference: the documented limits)."""
    k = (MAX_LENGTH - 1) // 2
    text = "z" + "+z" * k
    assert len(text) <= MAX_LENGTH and parse_expression(text, "expr") == (k + 1) * Z
    with pytest.raises(ValueError, match="characters"):
        parse_expression(text + " " * (MAX_LENGTH + 1 - len(text)), "expr")
    deep = "sin(" * (MAX_DEPTH - 1) + "z" + ")" * (MAX_DEPTH - 1)
    assert parse_expression(deep, "expr").count(sp.sin) == MAX_DEPTH - 1
    with pytest.raises(ValueError, match="nested"):
        parse_expression("sin(" + deep + ")", "expr")


@pytest.mark.parametrize("text,expected", [
    ("log(1 + exp(-y*z))", sp.log(1 + sp.exp(-Y * Z))),
    ("log1p(exp(-y*z))", sp.log(1 + sp.exp(-Y * Z))),
    ("expm1(z) - z", sp.exp(Z) - 1 - Z),
    ("(y - z)**2/2", (Y - Z) ** 2 / 2),
    ("1/(1 + exp(-2.5*y*z))", 1 / (1 + sp.exp(-sp.Float(2.5) * Y * Z))),
    ("-z + +y - -1", -Z + Y + 1),
    ("2**-1 * z", Z / 2),
    ("E**z + pi*y", sp.exp(Z) + sp.pi * Y),
    ("sqrt(z**2 + 1) + erf(z) + erfc(y) + tanh(z) + atan(z) + asinh(z) + cosh(z) + sinh(z) + tan(z) + cos(z)",
     sp.sqrt(Z**2 + 1) + sp.erf(Z) + sp.erfc(Y) + sp.tanh(Z) + sp.atan(Z) + sp.asinh(Z) + sp.cosh(Z) + sp.sinh(Z)
     + sp.tan(Z) + sp.cos(Z)),
    ("abs(z) + Abs(y) + max(0, 1 - y*z) + Min(z, y, 1) + sign(z) + Heaviside(z)",
     sp.Abs(Z) + sp.Abs(Y) + sp.Max(0, 1 - Y * Z) + sp.Min(Z, Y, 1) + sp.sign(Z) + sp.Heaviside(Z)),
    ("1e-3 * z", sp.Float(1e-3) * Z),
    ("z + " + "z + " * 400 + "z", 402 * Z),  # a long chain is one level, not 400
])
def test_valid_formulas_build_the_expected_sympy_expression(text, expected):
    """Reference: the same expression built directly with sympy objects."""
    got = parse_expression(text, "expr")
    assert sp.simplify(got - expected) == 0


def test_sympy_objects_stay_accepted_and_undefined_functions_are_not():
    """A sympy expression is used as given (symbols matched by name, with assumptions or not); an undefined
    function, which no evaluator can compute, is refused by name."""
    yr, zr = sp.symbols("y z", real=True)
    loss = Loss.from_expr(sp.log(1 + sp.exp(-yr * zr)))
    np.testing.assert_allclose(loss.prox([1.0, -1.0], [0.3, 0.3], 2.0)[0],
                               Loss.logistic().prox([1.0, -1.0], [0.3, 0.3], 2.0)[0], rtol=1e-12)
    with pytest.raises(ValueError, match="undefined function"):
        Loss.from_expr(sp.Function("f")(Z) + Z**2)
    with pytest.raises(ValueError, match="unknown symbols a"):
        Loss.from_expr(sp.Symbol("a") * Z**2)
    with pytest.raises(TypeError, match="string or a sympy expression"):
        Loss.from_expr(3.0)


def test_erf_is_vectorised_in_a_likelihood():
    """``(1 + y erf(z))/2`` is the probit channel with noise 1/2 (erf(z) = 2 Phi(sqrt(2) z) - 1); reference:
    the probit channel's closed-form moments (1, sqrt(2/(pi (rho + 1/2))))."""
    ch = Channel.from_likelihood("(1 + y*erf(z))/2")
    for rho in (0.3, 1.0, 4.0):
        ey2, b = ch.moments(rho)
        assert ey2 == pytest.approx(1.0, rel=1e-12)
        assert b == pytest.approx(np.sqrt(2 / (np.pi * (rho + 0.5))), rel=1e-10)


def test_erf_is_vectorised_in_a_loss():
    """``(y - z)**2/2 + erf(z)/10`` on 10^4 points: value and l' against the closed forms with
    scipy.special.erf, and the prox against the optimality condition (z - omega)/V + l'(y, z) = 0."""
    loss = Loss.from_expr("(y - z)**2/2 + erf(z)/10")
    rng = np.random.default_rng(3)
    y, omega = rng.standard_normal(10_000), 3 * rng.standard_normal(10_000)
    terms = np.abs((y - omega) ** 2 / 2) + np.abs(special.erf(omega) / 10)
    assert np.all(np.abs(loss(y, omega) - ((y - omega) ** 2 / 2 + special.erf(omega) / 10)) <= 8e-16 * terms)
    d1 = omega - y + np.exp(-omega**2) / (5 * np.sqrt(np.pi))
    np.testing.assert_allclose(loss.derivative(y, omega), d1, rtol=1e-12, atol=1e-15)
    z, _ = loss.prox(y, omega, 0.7)
    grad = z - y + np.exp(-z**2) / (5 * np.sqrt(np.pi))
    scale = np.abs(z - omega) + 0.7 * (np.abs(z) + np.abs(y) + 1)
    assert np.all(np.abs((z - omega) + 0.7 * grad) <= 1e-12 * scale)


@pytest.mark.parametrize("text,largest_log", [
    ("exp(-y*z)/(1 + exp(-y*z))", "yz"),
    ("(0.002*z + (z - y)*exp((z - 50)**2) - 0.1)*exp(-(z - 50)**2)", "z2"),
    ("exp(2*y*z)/(exp(y*z) + 1)**2", "yz"),
    ("erfc(z)*exp(z**2)", "z2"),
    ("asinh(exp(z)) - log(cosh(z))", "yz"),
    ("sqrt(exp(z) + 1)*exp(-z/2)", "yz"),
    ("Max(exp(z), exp(2*z))*exp(-2*z) + Abs(exp(z) - exp(y))*sign(z)*exp(-z)", "yz"),
    ("sinh(z)/cosh(z) + z**3*exp(-z)", "yz"),
])
def test_overflow_free_evaluation_matches_mpmath(text, largest_log):
    """Entries where plain numpy gives inf or NaN (inf/inf, inf*0) are recomputed in the sign-log form;
    reference: mpmath at 50 digits on those entries. Each operation there rounds a logarithm, so the
    relative error is about eps times the largest |log| of an intermediate, L (2|y z| + |z| or
    (|z| + 50)^2 for these formulas): asserted at 16 eps (1 + L)."""
    import mpmath

    ex = parse_expression(text, "expr")
    rng = np.random.default_rng(0)
    y = rng.choice([-3.0, -1.0, -0.5, 0.5, 1.0, 3.0], 600)
    z = rng.choice([-1.0, 1.0], 600) * 10 ** rng.uniform(2.8, 3.3, 600)  # |z| in [630, 2000]
    with np.errstate(all="ignore"):
        plain = np.broadcast_to(sp.lambdify((Y, Z), ex, ["scipy", "numpy"])(y, z), z.shape)
    bad = ~np.isfinite(plain)
    y, z = y[bad], z[bad]
    got = lambdify_safe(ex)(y, z)
    big = 2 * np.abs(y * z) + np.abs(z) if largest_log == "yz" else (np.abs(z) + 50) ** 2
    bound = 16 * np.finfo(float).eps * (1 + big)
    ref_fn = sp.lambdify((Y, Z), ex, "mpmath")
    checked = 0
    with mpmath.workdps(50):
        for a, b, g, tol in zip(y, z, got, bound, strict=True):
            ref = ref_fn(mpmath.mpf(a), mpmath.mpf(b))
            if mpmath.im(ref) == 0 and abs(ref) < 1e300 and (ref == 0 or abs(ref) > 1e-300):
                assert g == pytest.approx(float(ref), rel=tol, abs=0.0), (a, b)
                checked += 1
    assert checked >= 20


# ------------------------------------------------------------------------ labels (0, 1) with the square loss
LOGIT01 = "y/(1 + exp(-2*z)) + (1 - y)/(1 + exp(2*z))"


def test_zero_one_labels_errors_match_quadrature():
    """A likelihood over labels (0, 1) is a regression-type label set: its test errors are MSEs. Reference:
    scipy's dblquad over (nu, h) ~ N(0, [[rho, m], [m, q]]) of (nu - h)^2 and of sum_y P0(y|nu) (y - h)^2."""
    from scipy import integrate

    ch = Channel.from_likelihood(LOGIT01, labels=(0, 1))
    assert not ch.is_classification
    rho, q, m = 1.3, 0.7, 0.5
    cov = np.array([[rho, m], [m, q]])
    prec, norm = np.linalg.inv(cov), 1 / (2 * np.pi * np.sqrt(np.linalg.det(cov)))

    def expect(f):
        def g(h, nu):
            x = np.array([nu, h])
            return f(nu, h) * norm * np.exp(-0.5 * x @ prec @ x)
        return integrate.dblquad(g, -12, 12, -12, 12, epsabs=1e-12, epsrel=1e-10)[0]

    p1 = lambda nu: 1 / (1 + np.exp(-2 * nu))  # noqa: E731
    noiseless = expect(lambda nu, h: (nu - h) ** 2)
    noisy = expect(lambda nu, h: p1(nu) * (1 - h) ** 2 + (1 - p1(nu)) * h**2)
    assert ch.test_error(rho, q, m) == pytest.approx(noiseless, rel=1e-8)
    assert ch.test_error_noisy(rho, q, m) == pytest.approx(noisy, rel=1e-8)


@pytest.mark.parametrize("loss", [Loss.square(), Loss.from_expr("(y - z)**2/2")], ids=["square", "formula"])
def test_square_loss_with_zero_one_labels_matches_simulation(loss):
    """Square loss on labels (0, 1) (it used to stop with "the noiseless test error needs labels (-1, 1)").
    Reference: finite-size ridge on the Gaussian control (p = 200, 20 seeds, 4000 test samples each). Twelve
    z-scores, so the bound is |z| <= 5 (a false alarm has probability about 12 * 6e-7 at any seed)."""
    from replica import learning_curve
    from validation import Covariances, compare, gaussian_control, simulate

    p, alphas = 200, [0.5, 2.0]
    theta = np.random.default_rng(0).standard_normal(p)
    ctrl = gaussian_control(Covariances(omega=np.eye(p), phi=0.8 * np.eye(p), mean_v=np.zeros(p)), theta)
    ch = Channel.from_likelihood(LOGIT01, labels=(0, 1))
    spec = Spectrum.from_covariances(omega=np.eye(p), phi=0.8 * np.eye(p), psi=np.eye(p), theta=theta)
    curve = learning_curve(spec, loss, ch, alphas, 0.1)
    assert bool(np.all(curve.converged))
    sim = simulate(ctrl.generator, None, ctrl.teacher, ch, loss, 0.1, alphas, covariances=ctrl.covariances,
                   n_test=4000, seeds=20, seed=1, progress=False)
    assert compare(curve, sim).max_abs_z <= 5


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="yzexpEilogsqrtna0123456789.+-*/()[]{},:=<>^%@!~'\" _", max_size=60))
def test_any_string_parses_or_raises_value_error(text):
    """Fuzzing: any string over formula-like characters gives a sympy expression in y and z or a ValueError,
    never another exception (a parser crash is a refusal the user cannot read)."""
    try:
        ex = parse_expression(text, "expr")
    except ValueError:
        return
    assert isinstance(ex, sp.Expr) and ex.free_symbols <= {Y, Z}
