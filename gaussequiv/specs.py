"""The command line's grammar: one parser per concept, used by every subcommand.

=============  =========================================================================================
concept        syntax
=============  =========================================================================================
generator      ``fashion-dcgan``, ``face-dcgan`` (optional extra), ``dcgan-random[:SEED]``,
               ``single-ACT:DxN[:SEED]`` (e.g. ``single-sign:100x1000``), ``deep-ACT:DxH1x...xN[:SEED]``,
               ``isotropic:N`` (``x = c ~ N(0, I_N)``, ``D = N``)
features       ``identity``, ``rf-ACT:P[:SEED]`` (ACT: erf, relu, tanh, sign, ...; erf is erf(z)),
               ``rff:P[:BANDWIDTH[:SEED]]``
loss           ``square``, ``logistic``, ``hinge``, ``huber[:A]`` (or a formula, ``--loss-expr``)
channel        ``linear[:NOISE]``, ``sign[:FLIP]``, ``probit:NOISE``
teacher        ``random[:SEED]`` (one fixed teacher, the default: ``random:0``) or ``averaged``
grid           ``START:STOP:NUM`` (NUM points, linear), ``START:STOP:NUM:log`` (geometric), a comma list
               ``a,b,c``, or one number; the same for every grid option (``--alphas``, ``--lam``)
=============  =========================================================================================

Each parser turns a string into the library object through its public constructor
(:meth:`replica.Loss.from_name`, :meth:`replica.Channel.sign`, :class:`spectra.generators.SingleLayer`,
:func:`spectra.features.random_features`, :meth:`spectra.teachers.LinearTeacher.random`, ...) and raises a
``ValueError`` that names the option and the accepted syntax. Seeds are ints ``>= 0``; a spec without one uses
0. This module imports numpy and the library only inside the parsers, so the command line's ``--help`` stays
light.

The teacher default is the same fixed teacher, ``random:0``, in ``gaussequiv spectrum`` and ``gaussequiv
validate``: the spectrum ``predict`` reads and the theory ``validate`` compares with simulations are then the
same numbers for the same generator, features and seeds. (``validate`` must simulate one concrete teacher, and
its Gaussian control needs one, so the fixed teacher is the default; ``averaged`` is the average over
``theta ~ N(0, I_D)``, which ``validate`` matches by drawing a fresh teacher per seed.)
"""

from __future__ import annotations

__all__ = ["CHANNELS", "DEFAULT_TEACHER", "HELP", "InputFileError", "add_data_options", "add_problem_options",
           "add_sweep_options", "add_teacher_option", "centred_problem", "load_spectrum", "parse_channel",
           "parse_features", "parse_generator", "parse_grid", "parse_loss", "parse_sweep", "parse_teacher"]

#: The teacher of ``gaussequiv spectrum`` and ``gaussequiv validate`` when ``--teacher`` is not given.
DEFAULT_TEACHER = "random:0"

#: Channel grammar: ``NAME[:PARAM]`` -> (constructor of :class:`replica.Channel`, parameter, required, meaning).
#: The parameter is passed positionally to ``getattr(replica.Channel, constructor)``; adding a channel is one line.
CHANNELS: dict[str, tuple[str, str, bool, str]] = {
    "linear": ("linear", "NOISE", False, "y = nu + sqrt(NOISE) xi (NOISE: noise variance, default 0)"),
    "sign": ("sign", "FLIP", False, "y = sign(nu), each label flipped with probability FLIP (default 0)"),
    "probit": ("probit", "NOISE", True, "y = sign(nu + sqrt(NOISE) xi), NOISE > 0"),
    "logit": ("logit", "BETA", True, "P(y | nu) = 1/(1 + exp(-BETA y nu)), BETA > 0"),
}


def _channel_syntax() -> str:
    return ", ".join(f"{n}:{p}" if req else f"{n}[:{p}]" for n, (_, p, req, _) in CHANNELS.items())


#: One-line syntax of each concept, for the options' help texts.
HELP = {
    "generator": ("fashion-dcgan, face-dcgan, dcgan-random[:SEED], single-ACT:DxN[:SEED] (e.g. single-sign:100x1000), "
                  "deep-ACT:DxH1x...xN[:SEED], isotropic:N"),
    "features": "identity, rf-ACT:P[:SEED] (e.g. rf-relu:1024; erf is erf(z)), rff:P[:BANDWIDTH[:SEED]]",
    "loss": "square, logistic, hinge, huber[:A]",
    "channel": _channel_syntax(),
    "teacher": (f"random[:SEED] (one fixed teacher theta ~ N(0, I_D), LinearTeacher.random(D, seed=SEED)) or "
                f"averaged (the average over teachers); default {DEFAULT_TEACHER}, the same in `spectrum` and "
                "`validate`, so the same setup gives the same numbers"),
    "grid": "START:STOP:NUM (linear), START:STOP:NUM:log (geometric), a comma list, or one number",
}


class InputFileError(Exception):
    """An input file exists but cannot be read as what the option expects (the command exits with status 1)."""


def _seed(text: str, option: str, spec: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{option} {spec!r}: the seed must be an int >= 0, got {text!r}")
    return int(text)


def _widths(text: str, option: str, spec: str) -> list[int]:
    try:
        widths = [int(t) for t in text.split("x")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise ValueError(f"{option} {spec!r}: expected widths like 100x1000 (positive ints joined by x), got {text!r}")
    return widths


def parse_grid(text: str, option: str = "--alphas"):
    """A grid of floats: ``START:STOP:NUM`` (``numpy.linspace``), ``START:STOP:NUM:log`` (``numpy.geomspace``),
    a comma list or one number.

    Parameters
    ----------
    text : str
    option : str
        The option's name, for messages.

    Returns
    -------
    numpy.ndarray
        1-d, float, at least one entry (bounds such as ``alpha > 0`` are checked by the function that uses it).

    Examples
    --------
    >>> parse_grid("0.5:2:4").tolist()
    [0.5, 1.0, 1.5, 2.0]
    >>> parse_grid("1e-3:1e-1:3:log", "--lam").round(6).tolist()
    [0.001, 0.01, 0.1]
    >>> parse_grid("1,2.5").tolist(), parse_grid("0.3").tolist()
    ([1.0, 2.5], [0.3])
    >>> parse_grid("1:2", "--lam")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --lam '1:2': expected START:STOP:NUM (linear), START:STOP:NUM:log (geometric), ...
    """
    import numpy as np

    bad = ValueError(f"{option} {text!r}: expected {HELP['grid']}")
    parts = text.strip().split(":")
    if len(parts) == 1:
        try:
            values = np.array([float(v) for v in parts[0].split(",")])
        except ValueError:
            raise bad from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{option} {text!r}: every value must be finite")
        return values
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "log"):
        raise bad
    try:
        start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise bad from None
    if num < 1:
        raise ValueError(f"{option} {text!r}: NUM must be an int >= 1, got {num}")
    if not (np.isfinite(start) and np.isfinite(stop)):
        raise ValueError(f"{option} {text!r}: START and STOP must be finite")
    if len(parts) == 4:
        if start <= 0 or stop <= 0:
            raise ValueError(f"{option} {text!r}: a geometric grid (:log) needs START > 0 and STOP > 0")
        return np.geomspace(start, stop, num)
    return np.linspace(start, stop, num)


def parse_generator(text: str, option: str = "--generator"):
    """A generator from its spec (module docstring).

    Returns
    -------
    spectra.generators.Generator or dynamics.IsotropicInputs

    Examples
    --------
    >>> gen = parse_generator("single-sign:10x20:3")
    >>> gen.latent_dim, gen.output_dim, gen.activation
    (10, 20, 'sign')
    >>> parse_generator("deep-relu:5x6x7").output_dim
    7
    >>> parse_generator("isotropic:30").latent_dim
    30
    """
    name, _, rest = text.partition(":")
    parts = rest.split(":") if rest else []
    unknown = ValueError(f"unknown {option} {text!r}; use {HELP['generator']} (ACT: sign, erf, tanh, relu)")
    from spectra import generators as gens

    if name in gens.PRETRAINED:
        if parts:
            raise ValueError(f"{option} {name} takes no parameters, got {text!r}")
        return gens.pretrained(name)
    if name == "dcgan-random":
        if len(parts) > 1:
            raise unknown
        from spectra.dcgan import DCGAN

        return DCGAN.random(seed=_seed(parts[0], option, text) if parts else 0)
    if name == "isotropic":
        if len(parts) != 1:
            raise ValueError(f"{option} {text!r}: use isotropic:N (x = c ~ N(0, I_N), D = N)")
        from dynamics import IsotropicInputs

        return IsotropicInputs(_widths(parts[0], option, text)[0])
    kind, _, act = name.partition("-")
    if kind in ("single", "deep") and act and 1 <= len(parts) <= 2:
        widths = _widths(parts[0], option, text)
        seed = _seed(parts[1], option, text) if len(parts) > 1 else 0
        if kind == "single":
            if len(widths) != 2:
                raise ValueError(f"{option} single-ACT:DxN needs two widths, got {parts[0]!r} in {text!r}")
            return gens.SingleLayer(widths[0], widths[1], act, seed=seed)
        return gens.DeepRandom(widths, act, seed=seed)
    raise unknown


def parse_features(text: str, input_dim: int, input_mean=None, option: str = "--features"):
    """A feature map from its spec (module docstring), or None for ``identity``.

    Parameters
    ----------
    text : str
    input_dim : int
        The generator's output dimension.
    input_mean : array, optional
        Subtracted from the input before the map (the centring of theory §1.1).

    Examples
    --------
    >>> parse_features("identity", 7) is None
    True
    >>> parse_features("rf-erf:10:1", 7).output_dim, parse_features("rff:12:0.5", 7).output_dim
    (10, 12)
    """
    name, _, rest = text.partition(":")
    parts = rest.split(":") if rest else []
    unknown = ValueError(f"unknown {option} {text!r}; use {HELP['features']}")
    if name == "identity":
        if parts:
            raise unknown
        return None
    from spectra import features as feats

    if name.startswith("rf-") and 1 <= len(parts) <= 2:
        p = _widths(parts[0], option, text)
        seed = _seed(parts[1], option, text) if len(parts) > 1 else 0
        if len(p) != 1:
            raise unknown
        return feats.random_features(input_dim, p[0], name[3:], seed=seed, input_mean=input_mean)
    if name == "rff" and 1 <= len(parts) <= 3:
        p = _widths(parts[0], option, text)
        try:
            bandwidth = float(parts[1]) if len(parts) > 1 else 1.0
        except ValueError:
            raise ValueError(f"{option} {text!r}: BANDWIDTH must be a number, got {parts[1]!r}") from None
        seed = _seed(parts[2], option, text) if len(parts) > 2 else 0
        if len(p) != 1:
            raise unknown
        return feats.random_fourier_features(input_dim, p[0], bandwidth=bandwidth, seed=seed, input_mean=input_mean)
    raise unknown


def parse_loss(text: str | None, expr: str | None = None, option: str = "--loss"):
    """A :class:`replica.Loss`: by name (``Loss.from_name``) or, if ``expr`` is given, from a formula in ``y`` and
    ``z`` (``Loss.from_expr``: a whitelist parser, never executed).

    Examples
    --------
    >>> parse_loss("huber:0.5").name
    'huber(0.5)'
    >>> parse_loss("logistic", expr="log(1 + exp(-y*z))").is_square
    False
    """
    from replica import Loss

    if expr is not None:
        return Loss.from_expr(expr)
    try:
        return Loss.from_name(text)
    except ValueError:
        raise ValueError(f"unknown {option} {text!r}; use {HELP['loss']}, or --loss-expr for a formula") from None


def parse_channel(text: str, option: str = "--channel"):
    """A :class:`replica.Channel` from ``NAME[:PARAM]`` (:data:`CHANNELS`).

    Examples
    --------
    >>> parse_channel("sign:0.1").name, parse_channel("linear").name
    ('sign(flip=0.1)', 'linear')
    >>> parse_channel("probit")
    Traceback (most recent call last):
    ...
    ValueError: --channel 'probit' needs its parameter: probit:NOISE
    """
    from replica import Channel

    name, colon, arg = text.partition(":")
    if name not in CHANNELS:
        raise ValueError(f"unknown {option} {text!r}; use {HELP['channel']}")
    constructor, param, required, _ = CHANNELS[name]
    if required and not arg:
        raise ValueError(f"{option} {text!r} needs its parameter: {name}:{param}")
    if colon and not arg:
        raise ValueError(f"{option} {text!r}: give {param} after the colon, or drop the colon")
    try:
        value = float(arg) if arg else None
    except ValueError:
        raise ValueError(f"{option} {text!r}: {param} must be a number, got {arg!r}") from None
    build = getattr(Channel, constructor)
    try:
        return build(value) if arg else build()
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: {exc}") from None


def parse_teacher(text: str, latent_dim: int, option: str = "--teacher"):
    """``"averaged"``, or a fixed :class:`spectra.teachers.LinearTeacher` from ``random[:SEED]``.

    The fixed teacher is ``LinearTeacher.random(latent_dim, seed=SEED)``: its own seed stream, independent of
    generators and feature maps built with the same seed (:mod:`gaussequiv.seeding`).

    Examples
    --------
    >>> parse_teacher("averaged", 5)
    'averaged'
    >>> parse_teacher("random:3", 5).theta.shape
    (5,)
    """
    kind, colon, seed = text.partition(":")
    if kind == "averaged" and not colon:
        return "averaged"
    if kind == "random" and (seed.isdigit() or not colon):
        from spectra.teachers import LinearTeacher

        return LinearTeacher.random(latent_dim, seed=int(seed or 0))
    raise ValueError(f"{option} must be 'averaged' or 'random[:SEED]' (SEED an int >= 0), got {text!r}")


def centred_problem(generator: str, features: str, seed: int, center_samples: int):
    """Generator and feature map from their specs, the features acting on centred generator outputs (theory §1.1).

    The pilot mean is :func:`spectra.features.generator_mean` with ``seed``: its samples come from a stream of
    their own, independent of the estimation run with the same seed, and every command that uses the same
    specs and seed builds the same feature map (and shares the covariance cache).

    Returns
    -------
    (generator, feature map or None)
    """
    from gaussequiv import checks

    center_samples = checks.integer("--center-samples", center_samples, minimum=0)
    gen = parse_generator(generator)
    fmap = parse_features(features, gen.output_dim)  # the spec is checked before the pilot run
    if fmap is None or center_samples == 0:
        return gen, fmap
    from spectra.features import generator_mean

    return gen, parse_features(features, gen.output_dim, generator_mean(gen, center_samples, seed=seed))


def load_spectrum(path: str, option: str = "--spectrum"):
    """:meth:`spectra.Spectrum.load`; a file that is not a saved spectrum raises :class:`InputFileError`.

    A missing file raises ``FileNotFoundError``, as ``open`` does.
    """
    import os
    import pickle
    import zipfile

    from spectra import Spectrum

    if not os.path.exists(path):
        raise FileNotFoundError(f"{option} {path}: no such file")
    try:
        return Spectrum.load(path)
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise InputFileError(f"{option} {path} is not a saved Spectrum (Spectrum.save, `gaussequiv spectrum`): "
                             f"{exc}") from None


def parse_sweep(alphas: str, lam: str):
    """The grids of a sweep: ``(alphas, lam)`` with ``lam`` a float (a learning curve in alpha) or an array of
    several values with a single alpha (a lambda path, :func:`replica.lambda_path`).

    Examples
    --------
    >>> a, lam = parse_sweep("0.5:2:4", "0.01")
    >>> a.tolist(), lam
    ([0.5, 1.0, 1.5, 2.0], 0.01)
    >>> a, lam = parse_sweep("1.5", "1e-3:1e-1:3:log")
    >>> a.tolist(), lam.size
    ([1.5], 3)
    """
    alpha_grid, lam_grid = parse_grid(alphas, "--alphas"), parse_grid(lam, "--lam")
    if lam_grid.size > 1 and alpha_grid.size > 1:
        raise ValueError(f"--lam {lam!r} has {lam_grid.size} values (a lambda path) and --alphas {alphas!r} has "
                         f"{alpha_grid.size}: a lambda path needs a single --alphas value")
    return alpha_grid, (lam_grid if lam_grid.size > 1 else float(lam_grid[0]))


# ------------------------------------------------------------------------------------------- option groups
# Shared by the subcommands, so each concept has the same option name, default and help everywhere.

def add_data_options(parser) -> None:
    """``--generator``, ``--features``, the Monte Carlo sizes and the seed (``spectrum``, ``validate``)."""
    g = parser.add_argument_group("generator data")
    g.add_argument("--generator", default="fashion-dcgan", help=f"generator spec: {HELP['generator']} "
                                                                "(default fashion-dcgan)")
    g.add_argument("--features", default="identity", help=f"feature map spec: {HELP['features']} (default identity)")
    g.add_argument("--samples", type=int, default=100_000,
                   help="Monte Carlo samples of the covariance estimate (default 1e5)")
    g.add_argument("--center-samples", type=int, default=10_000,
                   help="samples of a separate pilot run whose mean the feature map subtracts from its input "
                        "(theory §1.1; 0: the features act on raw outputs; default 1e4)")
    g.add_argument("--batch-size", type=int, default=1000, help="samples per generator call (default 1000)")
    g.add_argument("--precision", choices=("float64", "float32"), default="float64",
                   help="precision of the estimate's accumulation (default float64)")
    g.add_argument("--seed", type=int, default=0,
                   help="root seed (int >= 0) of the Monte Carlo samples and the pilot mean; objects of different "
                        "kinds draw independent streams from it (default 0)")


def add_teacher_option(parser) -> None:
    """``--teacher`` (``spectrum``, ``validate``)."""
    parser.add_argument_group("teacher").add_argument("--teacher", default=DEFAULT_TEACHER,
                                                      help=f"teacher: {HELP['teacher']}")


def add_problem_options(parser) -> None:
    """``--loss``, ``--loss-expr`` and ``--channel`` (``predict``, ``validate``)."""
    g = parser.add_argument_group("estimator and labels")
    g.add_argument("--loss", default="logistic", help=f"{HELP['loss']} (default logistic)")
    g.add_argument("--loss-expr", default=None, metavar="FORMULA",
                   help="a convex loss formula in y and z, e.g. 'log(1 + exp(-y*z))' (overrides --loss); read by a "
                        "whitelist parser (numbers, + - * / **, exp, log, erf, ...), never executed")
    g.add_argument("--channel", default="sign", help=f"teacher channel: {HELP['channel']} (default sign)")


def add_sweep_options(parser) -> None:
    """``--alphas`` and ``--lam``, both grids of the one grammar (``predict``, ``validate``)."""
    g = parser.add_argument_group("sweep")
    g.add_argument("--alphas", default="0.2:3:8", help=f"alpha = n/p: {HELP['grid']} (default 0.2:3:8)")
    g.add_argument("--lam", default="1e-2",
                   help=f"ridge penalty (default 1e-2); several values (same grid syntax: {HELP['grid']}) make a "
                        "lambda path at a single --alphas value")
