"""Batched pretraining of the full LSA (arXiv:2603.01293 Section 3).

Every parameter carries a leading runs axis R: R seeds (or configurations) train in
one batched computation. The loss summed over runs has per-run gradients that do
not interact, and SGD/Adam act elementwise, so each run follows exactly the
trajectory it would follow alone.

Why only Ṽ trains: one step from ŵ_0 = 0 reads W̃ only through W̃ŵ_0 = 0, so W̃ gets
exactly zero gradient in pretraining (it is not identifiable there); it is held at
the paper's W̃_0 = I.
"""
from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from numerics import optim
from numerics import validation as check
from numerics.closed_forms import DERIVED
from numerics.devices import DEVICE_VARIABLE, requested_device
from numerics.lsa import cot_rollout, reduced_rollout
from numerics.sampling import Mixture, PromptSource, make_generator, paper_covariance


def versions() -> dict:
    """Plain strings: torch.__version__ is a TorchVersion, whose pickle (in the cached records of training checks) would make
    reading the cache import torch."""
    import mpmath
    import sympy
    return {"python": platform.python_version(), "numpy": str(np.__version__), "torch": str(torch.__version__),
            "sympy": str(sympy.__version__), "mpmath": str(mpmath.__version__)}


def default_device() -> torch.device:
    """Where training runs when its config names no device (numerics.devices): ``$PROOFS_CHECK_DEVICE`` (``cpu``,
    ``cuda``, or ``auto``: the GPU when torch sees one), else the CPU."""
    requested = requested_device() or "cpu"
    if requested == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise check.ValidationError(f"environment variable {DEVICE_VARIABLE}: 'cuda' requested but torch sees no "
                                    "CUDA device")
    return torch.device(requested)


@dataclass
class PretrainConfig:
    """Pretraining run specification (one spec, R batched runs).

    gradient : ``"sampled"`` trains through the full LSA forward pass on fresh prompts
        each step; ``"population"`` uses the exact population loss (compiled theory,
        differentiated by autograd).
    """

    d: int = 8
    n: int = 32
    covariance: np.ndarray | None = None      # default: the paper's Σ_0
    mixture: Mixture | None = None
    noise_std: float = 0.0
    weight_std: float = 1.0
    runs: int = 4
    steps: int = 800
    prompts_per_step: int = 512
    optimizer: str = "adam"
    lr: float = 0.03
    init_scale: float = 0.01
    gradient: str = "sampled"
    forward: str = "full"                     # "full" LSA or the "reduced" recursion
    seed: int = 0
    dtype: torch.dtype = torch.float64
    device: str | None = None

    def validated(self) -> "PretrainConfig":
        check.positive_int("d", self.d)
        check.positive_int("n", self.n)
        check.positive_int("runs", self.runs)
        check.positive_int("steps", self.steps)
        check.positive_int("prompts_per_step", self.prompts_per_step)
        check.positive("lr", self.lr)
        check.nonnegative("init_scale", self.init_scale)
        check.nonnegative("noise_std", self.noise_std)
        check.positive("weight_std", self.weight_std)
        check.one_of("optimizer", self.optimizer, {"adam", "sgd"})
        check.one_of("gradient", self.gradient, {"sampled", "population"})
        check.one_of("forward", self.forward, {"full", "reduced"})
        if self.gradient == "population" and self.mixture is not None and (self.noise_std > 0 or self.weight_std != 1):
            # the compiled mixture loss is the noiseless one with w* ~ N(0, I): a silent wrong objective otherwise
            raise check.ValidationError("parameter 'mixture': the population gradient of a mixture supports "
                                        "noise_std = 0 and weight_std = 1 only")
        if self.covariance is None and self.mixture is None:
            self.covariance = paper_covariance(self.d)
        if self.covariance is not None:
            self.covariance = check.covariance("covariance", self.covariance, self.d)
        return self

    def record(self) -> dict:
        """JSON-friendly record of the configuration."""
        out = {k: v for k, v in asdict(self).items() if k not in ("covariance", "mixture", "dtype")}
        out["dtype"] = str(self.dtype)
        if self.covariance is not None:
            out["covariance"] = np.asarray(self.covariance).tolist()
        if self.mixture is not None:
            out["mixture"] = {"weights": self.mixture.weights.tolist(),
                              "covariances": self.mixture.covariances.tolist()}
        return out


@dataclass
class PretrainResult:
    v_block: torch.Tensor          # (R, d, d) trained Ṽ
    w_block: torch.Tensor          # (R, d, d) W̃ (held at I)
    loss_history: np.ndarray       # (steps, R)
    config: dict
    versions: dict = field(default_factory=versions)


def _population_loss(config: PretrainConfig, tensors, device):
    """Exact population loss per run (compiled theory + autograd) as a function of Ṽ (R, d, d) -> (R,), its parts
    free of Ṽ bound once (CompiledExpression.bind_torch: the numbers of the unbound .torch call, bitwise)."""
    def bound(name, **fixed):
        return DERIVED[name].bind_torch(("V",), config.dtype, device, n=config.n, **fixed)
    if config.mixture is not None:
        parts = [(p, bound("one_step_error", Sigma=c)) for p, c in zip(config.mixture.weights.tolist(),
                                                                        tensors["mixture"])]
        return lambda v: sum(p * loss(V=v) for p, loss in parts)
    if config.noise_std > 0 or config.weight_std != 1.0:     # w* ~ N(0, ψ² I): the noisy form at σ ≥ 0
        noisy = bound("noisy_one_step_error", Sigma=tensors["covariance"], sigma2=config.noise_std ** 2,
                      psi2=config.weight_std ** 2)
        return lambda v: noisy(V=v)
    plain = bound("one_step_error", Sigma=tensors["covariance"])
    return lambda v: plain(V=v)


def prompt_source(config: PretrainConfig, device=None) -> PromptSource:
    """The prompt distribution of ``config``, validated and factorised once (numerics.sampling.PromptSource)."""
    return PromptSource(config.covariance, mixture=config.mixture, noise_std=config.noise_std,
                        weight_std=config.weight_std, dtype=config.dtype, device=device)


def sampled_loss(v_block, w_block, config: PretrainConfig, generator, source: PromptSource | None = None):
    """Mean over fresh prompts of ‖ŵ_1 - w*‖² through the LSA, shape (R,). ``source``: the config's
    :func:`prompt_source`, built once per training run (else here)."""
    source = source or prompt_source(config, v_block.device)
    prompts = source.draw(config.n, config.prompts_per_step, runs=config.runs, generator=generator)
    if config.forward == "full":
        estimate = cot_rollout(prompts.x, prompts.y, v_block, w_block, steps=1)[..., -1, :]
    else:
        estimate = reduced_rollout(prompts.sample_covariance, prompts.cross_moment, v_block, w_block, 1)[..., -1, :]
    return ((estimate - prompts.w_star) ** 2).sum(-1).mean(-1)


def pretrain(config: PretrainConfig) -> PretrainResult:
    """Train Ṽ for R runs at once from a small random initialisation.

    The learning rate follows a cosine decay to zero, so the final iterate of the
    sampled-gradient runs settles instead of jittering at the noise floor.
    """
    config = config.validated()
    device = torch.device(config.device) if config.device else default_device()
    generator = make_generator(config.seed, device)
    init = torch.randn(config.runs, config.d, config.d, generator=generator, dtype=config.dtype, device=device)
    v_block = (config.init_scale * init).requires_grad_(True)
    w_block = torch.eye(config.d, dtype=config.dtype, device=device).expand(config.runs, -1, -1)
    tensors = {}
    if config.covariance is not None:
        tensors["covariance"] = torch.as_tensor(config.covariance, dtype=config.dtype, device=device)
    if config.mixture is not None:
        tensors["mixture"] = [torch.as_tensor(c, dtype=config.dtype, device=device)
                              for c in config.mixture.covariances]
    optimizer = (optim.Adam([v_block], lr=config.lr) if config.optimizer == "adam"
                 else optim.GradientDescent([v_block], lr=config.lr))
    history = np.empty((config.steps, config.runs))
    source = prompt_source(config, device) if config.gradient != "population" else None
    population_loss = _population_loss(config, tensors, device) if config.gradient == "population" else None
    for step in range(config.steps):
        optimizer.lr = config.lr * optim.cosine_factor(step, config.steps)
        if config.gradient == "population":
            per_run = population_loss(v_block)
        else:
            per_run = sampled_loss(v_block, w_block, config, generator, source)
        optimizer.zero_grad(set_to_none=True)
        per_run.sum().backward()   # runs are independent: the sum separates
        optimizer.step()
        history[step] = per_run.detach().cpu().numpy()
    record = dict(config.record(), device=str(device))
    return PretrainResult(v_block.detach(), w_block.detach().clone(), history, record)


def relative_error(estimate, target) -> np.ndarray:
    """Per-run ‖estimate - target‖_F / ‖target‖_F; estimate (R, d, d) (a tensor or an array), target (d, d)."""
    estimate = estimate if isinstance(estimate, torch.Tensor) else torch.as_tensor(check.finite_array("estimate",
                                                                                                      estimate))
    target = torch.as_tensor(check.finite_array("target", target), dtype=estimate.dtype, device=estimate.device)
    if estimate.dim() < 2 or target.shape != estimate.shape[-2:]:
        raise check.ValidationError(f"parameter 'target': shape {tuple(target.shape)} must be the matrices' shape of "
                                    f"'estimate' {tuple(estimate.shape)}")
    diff = torch.linalg.matrix_norm(estimate - target)
    return (diff / torch.linalg.matrix_norm(target)).cpu().numpy()
