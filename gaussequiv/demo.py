"""``gaussequiv demo``: the library end to end on its built-in pretrained generator.

1. Estimate the covariances of random features of the built-in Fashion-MNIST DCGAN (cached after the first
   run under ``$GAUSSEQUIV_CACHE`` or ``~/.cache/gaussequiv``).
2. Predict ridge (linear teacher) and logistic (sign teacher) learning curves from the replica equations.
3. Validate a few alphas of each curve by training the real models on fresh generator samples
   (``validation.simulate``), and on the Gaussian control with the same covariances
   (``validation.gaussian_control``), with z-scores and a verdict per group of quantities by the one rule of
   ``validation.compare`` (Holm at family-wise level ``--level``).
4. Print tables and write ``demo.png``, ``validate_*.png`` and ``control_*.png`` (one panel per group of
   quantities, titled with its verdict), ``validate_*.md`` and CSVs.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import replica
import spectra
import validation
from gaussequiv import checks, seeding
from gaussequiv.seeding import SeedLike
from spectra.features import generator_mean, random_features
from spectra.generators import pretrained
from spectra.teachers import LinearTeacher

__all__ = ["DemoResult", "run_demo", "register"]


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What the demo computed: per problem (``"ridge"``, ``"logistic"``), the dense theory curve, the comparison of
    the theory with the generator data and with the Gaussian control (verdicts by the rule of
    :mod:`validation.compare`).

    Attributes
    ----------
    curves : dict of str to replica.Curve
    comparisons : dict of str to validation.Comparison
        Theory against ERM on fresh generator samples (all measured quantities, verdict per group).
    controls : dict of str to validation.Comparison
        Theory against the same ERM on the Gaussian control with the estimated covariances.
    out : pathlib.Path
        Where the files were written.
    """

    curves: dict
    comparisons: dict
    controls: dict
    out: Path

    @property
    def converged(self) -> bool:
        """Every theory point and every fit converged."""
        return all(c.all_converged for c in self.curves.values()) and \
            all(c.converged for c in (*self.comparisons.values(), *self.controls.values()))

    @property
    def status(self) -> str:
        """``"converged"`` or ``"not_converged"`` (see :attr:`converged`)."""
        return "converged" if self.converged else "not_converged"

    def tables(self) -> dict[str, dict]:
        """The demo's flat tables (dicts of equal-length 1-d numpy arrays, ``pandas.DataFrame``-ready):

        * ``"comparisons"``: one row per (problem, data, quantity, point): ``problem`` (``"ridge"``,
          ``"logistic"``), ``data`` (``"generator"`` or ``"gaussian control"``) and the columns of
          :meth:`validation.Comparison.to_dict`;
        * ``"curves"``: one row per (problem, point) of the dense theory curves: ``problem`` and the columns
          of :meth:`replica.Curve.to_dict`.
        """
        from gaussequiv.tables import concat

        parts = [(name, data, cmp) for name in self.comparisons
                 for data, cmp in (("generator", self.comparisons[name]), ("gaussian control", self.controls[name]))]
        return {"comparisons": concat([c.to_dict() for *_, c in parts],
                                      [{"problem": name, "data": data} for name, data, _ in parts]),
                "curves": concat([c.to_dict() for c in self.curves.values()],
                                 [{"problem": name} for name in self.curves])}

    def to_dict(self) -> dict:
        """The ``"comparisons"`` table of :meth:`tables` (one row per problem, data, quantity and point; its
        ``status`` is each point's), with the demo's own ``demo_status``, ``demo_converged`` and ``out`` repeated on
        every row."""
        table = self.tables()["comparisons"]
        rows = len(table["problem"])
        table.update(demo_status=np.full(rows, self.status), demo_converged=np.full(rows, self.converged),
                     out=np.full(rows, str(self.out)))
        return table


def run_demo(out: str | Path = "demo_out", *, p: int = 400, n_samples: int = 40_000, lam: float = 1e-2,
             seed: SeedLike = 0, seeds: int = 6, n_test: int = 2000, level: float = validation.LEVEL,
             progress: bool | None = None) -> DemoResult:
    """Run the demo (module docstring) and return what it computed and judged.

    Parameters
    ----------
    out : path
        Output folder (created if missing).
    p : int
        Number of ReLU random features of the generator's output.
    n_samples : int
        Monte Carlo samples of the covariance estimate (cached).
    lam : float
        Ridge penalty of both problems.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Root seed: the features, the estimate, the teacher and the simulations each draw their own stream of
        it (:mod:`gaussequiv.seeding`), the Gaussian control's simulation the ``"demo.gaussian_control"``
        stream.
    seeds : int
        Simulation repetitions for the error bars (>= 2).
    n_test : int
        Fresh test samples per seed.
    level : float
        Family-wise level of the verdicts (:func:`validation.compare`).
    progress : bool or None
        Show progress bars: None (default) only on a terminal (:func:`gaussequiv.progress.show`).

    Returns
    -------
    DemoResult
    """
    level = checks.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    seeds = checks.integer("seeds", seeds, minimum=2)
    n_test = checks.integer("n_test", n_test)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    gen = pretrained("fashion-dcgan")
    seed = seeding.seed_sequence(seed)  # a Generator is consumed once: every draw below then shares one root
    mean = generator_mean(gen, 10_000, seed=seed)
    feats = random_features(gen.output_dim, p, "relu", seed=seed, input_mean=mean)
    print(f"[1/4] covariances of {p} ReLU random features of the fashion-dcgan ({n_samples} samples, cached)")
    est = spectra.estimate_covariances(gen, feats, n_samples=n_samples, batch_size=2000, seed=seed,
                                       progress=progress, cache=True)
    teacher = LinearTeacher.random(gen.latent_dim, seed=seed)
    spec = spectra.Spectrum.from_estimate(est, teacher.theta)
    print(f"      {spec}")
    alphas = np.round(np.geomspace(0.1, 5.0, 16), 4)
    print(f"[2/4] replica learning curves at lam = {lam:g}")
    problems = {"ridge": (replica.Loss.square(), replica.Channel.linear()),
                "logistic": (replica.Loss.logistic(), replica.Channel.sign())}
    curves = {name: replica.learning_curve(spec, loss, ch, alphas, lam, progress=progress)
              for name, (loss, ch) in problems.items()}
    print("[3/4] results (ridge: MSE vs the clean teacher, no 1/2; logistic: 0/1 error vs sign(teacher))")
    print(f"  {'alpha':>7s} | {'ridge test':>10s} {'ridge train':>11s} | {'logit test':>10s} {'logit train':>11s}")
    r, lg = curves["ridge"], curves["logistic"]
    for i, a in enumerate(alphas):
        print(f"  {a:7.3f} | {r.test_error[i]:10.4f} {r.train_error[i]:11.4f} | {lg.test_error[i]:10.4f} "
              f"{lg.train_error[i]:11.4f}")
    provenance = {"generator": "fashion-dcgan", "features": f"rf-relu:{p}", "p": p, "samples": int(est.n),
                  "lam": lam, "teacher": "fixed, LinearTeacher.random(D, seed)"}
    for name, c in curves.items():
        c.to_csv(out / f"demo_{name}.csv", metadata={**provenance, "problem": name})
    _plot(curves, spec, lam, out / "demo.png")
    check = np.array([0.5, 1.0, 2.0])
    print(f"[4/4] validation: real fits on fresh generator samples at alpha = {check.tolist()}, {seeds} seeds")
    comparisons, controls = {}, {}
    control = validation.gaussian_control(est, teacher)
    for name, (loss, ch) in problems.items():
        theory = replica.learning_curve(spec, loss, ch, check, lam, progress=False)
        sim = validation.simulate(gen, feats, teacher, ch, loss, lam, check, covariances=est, n_test=n_test,
                                  seeds=seeds, seed=seed, progress=progress)
        sim_g = validation.simulate(control.generator, None, control.teacher, ch, loss, lam, check,
                                    covariances=control.covariances, n_test=n_test, seeds=seeds,
                                    seed=seeding.stream(seed, "demo.gaussian_control"), progress=False)
        cmp = comparisons[name] = validation.compare(theory, sim, level=level)
        ctrl = controls[name] = validation.compare(theory, sim_g, level=level)
        for result, data, png in ((cmp, "generator data", f"validate_{name}.png"),
                                  (ctrl, "Gaussian control", f"control_{name}.png")):
            fig = validation.plot(result, theory=curves[name])
            fig.suptitle(f"{data}: fashion-dcgan -> {p} ReLU random features (p = {p}), lam = {lam:g}\n"
                         f"{fig.get_suptitle()}", fontsize=8)
            fig.savefig(out / png, dpi=150)
        (out / f"validate_{name}.md").write_text(
            cmp.summary() + "\n## Gaussian control (Gaussian data, same covariances)\n\n" + ctrl.summary())
        print(f"  {name}, generator data: {cmp.verdict_text()}")
        print(f"  {name}, Gaussian control: {ctrl.verdict_text()}; table in validate_{name}.md")
    print("  (Gaussian equivalence of a trained generator is an empirical hypothesis, theory §7. The Gaussian control\n"
          "   trains on Gaussian data with the same covariances: where it agrees and the generator data do not, the\n"
          f"   gap is a property of the data at this size (n = alpha p = {int(check[0] * p)} to {int(check[-1] * p)} "
          "samples), not of the theory.)")
    print(f"wrote {out}/demo.png, validate_*.png/.md, control_*.png and CSVs in {time.perf_counter() - t0:.1f} s")
    return DemoResult(curves=curves, comparisons=comparisons, controls=controls, out=out)


def _plot(curves, spec, lam, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].loglog(np.arange(1, spec.p + 1), np.sort(spec.s)[::-1], ".", ms=3)
    axes[0].set(xlabel="rank i", ylabel="eigenvalue $s_i$ of $\\Omega$",
                title=f"spectrum: fashion-dcgan -> ReLU RF, p = {spec.p}")
    for ax, (name, c) in zip(axes[1:], curves.items(), strict=True):
        c.plot(ax=ax)
        ax.set_xscale("log")
        ax.set_title(f"{name}: {c.loss} loss, {c.channel} teacher\nfashion-dcgan, p = {spec.p}, lam = {lam:g}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def register(sub) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser("demo", help="estimate a generator spectrum, predict learning curves and check them (the "
                                    "README demo)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--p", type=int, default=400, help="number of random features (default: 400)")
    p.add_argument("--samples", type=int, default=40_000, help="Monte Carlo samples for the covariances")
    p.add_argument("--lam", type=float, default=1e-2, help="ridge penalty (default: 0.01)")
    p.add_argument("--seed", type=int, default=0, help="root seed (int >= 0; default 0)")
    p.add_argument("--seeds", type=int, default=6, help="simulation repetitions for the error bars (>= 2)")
    p.add_argument("--n-test", type=int, default=2000, help="fresh test samples per seed (default 2000)")
    p.add_argument("--level", type=float, default=validation.LEVEL,
                   help=f"family-wise level of the verdicts (Holm; default {validation.LEVEL:g})")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    from gaussequiv.cli import progress

    run_demo(args.out, p=args.p, n_samples=args.samples, lam=args.lam, seed=args.seed, seeds=args.seeds,
             n_test=args.n_test, level=args.level, progress=progress(args))
