"""Population-gradient training loops on a compiled loss, bound (new) vs unbound (old), in the same run (issue #13).

The optimiser's residual of the pretraining checks (numerics.experiments.pretraining.optimiser_residual and
zfb_optimiser_residual) runs the trained checks' optimiser on the exact population loss, compiled from the
toolkit's Wick derivation. Old path: ``CompiledExpression.torch`` every step (inputs bound and checked, every node
evaluated, Σ's parts included). New path: ``bind_torch(("V",), ...)`` evaluates the parts free of Ṽ once
(numerics.training._population_loss, numerics.zfb.bound_population_risk). The end points are compared bitwise.

Shapes: d = 4, n = 64, a fixed Σ: one run of 800 Adam steps
(pretraining, plain / noisy / two-component mixture) and 4 runs of 600 gradient steps (ZFB), one thread. Each
ratio is old's median over new's, the repeats alternating old and new.

Usage: python benchmarks/bench_population_loss.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from numerics import threads
from numerics import training
from numerics import zfb
from numerics.closed_forms import DERIVED
from numerics.sampling import Mixture

NEW_LOSS, NEW_RISK = training._population_loss, zfb.bound_population_risk


def _old_loss(config, tensors, device):
    """The loop before: the whole compiled loss evaluated at every step."""
    def unbound(v):
        if config.mixture is not None:
            return sum(p * DERIVED["one_step_error"].torch(V=v, Sigma=c, n=config.n)
                       for p, c in zip(config.mixture.weights.tolist(), tensors["mixture"]))
        if config.noise_std > 0:
            return DERIVED["noisy_one_step_error"].torch(V=v, Sigma=tensors["covariance"], n=config.n,
                                                         sigma2=config.noise_std ** 2, psi2=config.weight_std ** 2)
        return DERIVED["one_step_error"].torch(V=v, Sigma=tensors["covariance"], n=config.n)
    return unbound


def use(path: str):
    training._population_loss = NEW_LOSS if path == "new" else _old_loss
    zfb.bound_population_risk = NEW_RISK if path == "new" else (lambda *args: None)   # None: the unbound call


SIGMA = np.array([[2.0, 0.3, 0.1, 0.0], [0.3, 1.0, 0.2, 0.1], [0.1, 0.2, 0.5, 0.0], [0.0, 0.1, 0.0, 0.8]])
CASES = {
    "pretraining": dict(covariance=SIGMA),
    "pretraining, noisy": dict(covariance=SIGMA, noise_std=0.5),
    "pretraining, mixture": dict(mixture=Mixture(np.array([0.3, 0.7]), np.stack([SIGMA, np.eye(4)]))),
}


def run(path: str, case: str):
    use(path)
    began = time.perf_counter()
    if case == "zfb":
        out, _ = zfb.train_zfb(zfb.ZFBConfig(d=4, n=64, runs=4, steps=600, gradient="population", seed=1))
    else:
        out = training.pretrain(training.PretrainConfig(d=4, n=64, runs=1, steps=800, gradient="population", seed=3,
                                                        **CASES[case])).v_block
    return time.perf_counter() - began, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads.configure(1)
    for case in list(CASES) + ["zfb"]:
        run("new", case)
        run("old", case)                       # compiled and warmed outside the timing
        old_times, new_times, same = [], [], True
        for _ in range(args.repeats):
            old_seconds, old_out = run("old", case)
            new_seconds, new_out = run("new", case)
            old_times.append(old_seconds)
            new_times.append(new_seconds)
            same = same and torch.equal(old_out, new_out)
        old, new = statistics.median(old_times), statistics.median(new_times)
        print(f"{case}: old {old:.3f} s, new {new:.3f} s, ratio {old / new:.2f}x; end points "
              f"{'bitwise equal' if same else 'DIFFER'}")
    use("new")


if __name__ == "__main__":
    main()
