"""``gaussequiv spectrum``: estimate the spectrum of a generator's features from the command line.

Example::

    gaussequiv spectrum --generator fashion-dcgan --features rf-erf:1024 --samples 100000 --out s.npz

Generator specs: ``fashion-dcgan``, ``face-dcgan`` (optional extra), ``dcgan-random[:SEED]``,
``single-ACT:DxN[:SEED]`` (e.g. ``single-sign:100x784``), ``deep-ACT:DxH1x...xN[:SEED]``.
Feature specs: ``identity``, ``rf-ACT:P[:SEED]`` (ACT in erf, relu, tanh, sign; erf is erf(z)),
``rff:P[:BANDWIDTH[:SEED]]``.
"""

from __future__ import annotations

import argparse

from spectra import features as feats
from spectra import generators as gens
from spectra.estimate import estimate_covariances
from spectra.spectrum import Spectrum
from spectra.teachers import LinearTeacher

__all__ = ["register", "parse_generator", "parse_features"]


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(t) for t in text.split("x")]
    except ValueError:
        raise ValueError(f"{what}: expected widths like 100x784, got {text!r}") from None


def parse_generator(spec: str):
    """A generator from a spec string (see the module docstring)."""
    name, _, rest = spec.partition(":")
    if name in gens.PRETRAINED:
        if rest:
            raise ValueError(f"--generator {name} takes no parameters, got {spec!r}")
        return gens.pretrained(name)
    parts = rest.split(":") if rest else []
    if name == "dcgan-random":
        from spectra.dcgan import DCGAN

        return DCGAN.random(seed=int(parts[0]) if parts else 0)
    kind, _, act = name.partition("-")
    if kind in ("single", "deep") and parts:
        widths = _ints(parts[0], "--generator")
        seed = int(parts[1]) if len(parts) > 1 else 0
        if kind == "single":
            if len(widths) != 2:
                raise ValueError(f"--generator single-ACT:DxN needs two widths, got {parts[0]!r}")
            return gens.SingleLayer(widths[0], widths[1], act, seed=seed)
        return gens.DeepRandom(widths, act, seed=seed)
    raise ValueError(f"unknown --generator {spec!r}; use fashion-dcgan, face-dcgan, dcgan-random[:SEED], "
                     f"single-ACT:DxN[:SEED] or deep-ACT:DxH...xN[:SEED]")


def parse_features(spec: str, input_dim: int, input_mean=None):
    """A feature map (or None for the identity) from a spec string (see the module docstring)."""
    name, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    try:
        if name == "identity" and not parts:
            return None
        if name.startswith("rf-") and parts:
            return feats.random_features(input_dim, int(parts[0]), name[3:],
                                         seed=int(parts[1]) if len(parts) > 1 else 0, input_mean=input_mean)
        if name == "rff" and parts:
            return feats.random_fourier_features(input_dim, int(parts[0]),
                                                 bandwidth=float(parts[1]) if len(parts) > 1 else 1.0,
                                                 seed=int(parts[2]) if len(parts) > 2 else 0,
                                                 input_mean=input_mean)
    except ValueError as exc:
        raise ValueError(f"--features {spec!r}: {exc}") from None
    raise ValueError(f"unknown --features {spec!r}; use identity, rf-ACT:P[:SEED] or rff:P[:BANDWIDTH[:SEED]]")


def centred_problem(generator: str, features: str, seed: int, center_samples: int):
    """Generator and feature map from their specs, the features acting on centred generator outputs (theory §1.1).

    The pilot mean is :func:`spectra.features.generator_mean` with ``seed``: its samples come from a stream of
    their own, independent of the estimation run with the same seed, and every command that uses the same
    specs and seed builds the same feature map (and shares the covariance cache).
    """
    gen = parse_generator(generator)
    mean = None
    if features != "identity" and center_samples > 0:
        mean = feats.generator_mean(gen, center_samples, seed=seed)
    return gen, parse_features(features, gen.output_dim, mean)


def _run(args: argparse.Namespace) -> None:
    gen, fmap = centred_problem(args.generator, args.features, args.seed, args.center_samples)
    est = estimate_covariances(gen, fmap, args.samples, batch_size=args.batch_size, seed=args.seed,
                               progress=not args.no_progress, checkpoint=args.checkpoint, groups=args.groups,
                               precision=args.precision, cache=args.cache)
    if args.teacher == "averaged":
        spec = Spectrum.from_estimate(est)
    else:
        kind, _, seed = args.teacher.partition(":")
        if kind != "random" or not (seed == "" or seed.isdigit()):
            raise ValueError(f"--teacher must be 'averaged' or 'random[:SEED]' (SEED an int >= 0), got "
                             f"{args.teacher!r}")
        # the teacher's own seed stream: independent of the generator and features even for equal seeds
        teacher = LinearTeacher.random(gen.latent_dim, seed=int(seed or 0))
        spec = Spectrum.from_estimate(est, teacher.theta)
    spec.save(args.out)
    if args.estimate_out:
        est.save(args.estimate_out)
    top = ", ".join(f"{s:.4g} +- {e:.2g}" for s, e in zip(est.eigvals[:5], est.eigvals_se[:5], strict=False))
    print(f"{est.config['generator']} -> {est.config['features']}: n = {est.n}, p = {est.p}, k = {est.k}")
    print(f"leading eigenvalues of Omega: {top}")
    print(f"rho = {spec.rho:.6g}, rho_lin = {spec.rho_lin:.6g}, teacher = {spec.teacher}; spectrum -> {args.out}")


def register(subparsers) -> None:
    """Add the ``spectrum`` subcommand."""
    p = subparsers.add_parser("spectrum", help="estimate a generator's feature spectrum (Monte Carlo)",
                              description=__doc__.split("\n\n")[0],
                              epilog=__doc__.split("\n\n", 2)[2],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", default="fashion-dcgan", help="generator spec (default fashion-dcgan)")
    p.add_argument("--features", default="identity", help="feature spec (default identity)")
    p.add_argument("--samples", type=int, default=100_000, help="Monte Carlo samples (default 1e5)")
    p.add_argument("--center-samples", type=int, default=10_000,
                   help="samples of a separate pilot run whose mean the feature map subtracts from its input "
                        "(theory §1.1; 0 = features act on raw outputs)")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the Monte Carlo samples and of the pilot mean (int >= 0, default 0)")
    p.add_argument("--groups", type=int, default=8, help="batch-means groups for the error bars")
    p.add_argument("--precision", choices=("float64", "float32"), default="float64")
    p.add_argument("--teacher", default="averaged",
                   help="'averaged' or 'random[:SEED]' (a fixed teacher, LinearTeacher.random(D, seed=SEED))")
    p.add_argument("--checkpoint", default=None, help="checkpoint .npz (resumes if it exists)")
    p.add_argument("--cache", default=None, help="cache directory for the estimate")
    p.add_argument("--out", required=True, help="output .npz of the Spectrum")
    p.add_argument("--estimate-out", default=None, help="also save the full CovarianceEstimate here")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run)
