"""Figure 3 protocols (arXiv:2603.01293, Section 8): a GPT-2 decoder pretrained with CoT on Σ_0, post-trained
with SFT or outcome supervision (OS) on data with the shift Δ, tested on Σ_0 + Δ with k = 3 CoT steps.

What the paper states (Section 8): GPT-2, 12 layers, 8 heads, 256-dim embeddings; linear read-in of (x, y)
tokens (y zero-padded) and linear read-out to ŵ; prompt (x_1, y_1, ..., x_n, y_n, w_0, 1); batch 64; pretrained
with CoT length 8 and a curriculum (Garg et al. 2022); SFT 100 steps, OS 12k steps; post-training and test with
k = 3 (the k panels vary the post-training k); Σ_0 = diag(0.1 on d/5, 1); test on Σ_0 + Δ; 10 runs.

What we chose (the paper does not say; every choice is a field of :class:`Fig3Protocol`):

* d = 20 and n ≤ 40 at paper scale (Garg et al.'s largest curriculum stage: d = 20, 41 points);
* Δ = diag(1 on the first d/5 coordinates) (numerics.covariances.paper_shift, a reconstruction, THEORY.md §4);
  the post-training data "generated with Δ" are drawn from Σ_0 + Δ, as in our Fig. 4 protocol;
* the CoT path of Section 3, w_i = (1 - (1 - η)^i) w*, with η = 0.5, for CoT pretraining (k = 8) and for SFT;
  the loss is the paper's L_SFT, teacher-forced over steps 0..k; OS is the paper's L_OS on ŵ_k, trained through
  the k-step rollout;
* pretraining: Adam, fresh prompts every step from Σ_0 (the population regime the theory assumes), a curriculum
  that grows the active dimension (x and w* zero beyond it, as in Garg et al.) and the largest prompt length
  linearly over the first ``ramp`` fraction of the steps, each step's length drawn uniformly up to it (Garg et
  al. supervise every prefix; trained at the largest length only, the model failed at shorter ones); one
  pretrained checkpoint per protocol, cached on disk;
* post-training: Adam at ``post_lr`` (all weights updated, as the paper says), minibatches of 64 drawn without
  replacement from the B prompts at every step (all B when B < 64);
* test loss: E‖ŵ_3 − w*‖² / d on fresh prompts from Σ_0 + Δ (the OS loss of Eq. (3.4) per coordinate), at the
  arm's n, with k_test = 3 in every panel;
* seeds: one pretrained model; each seed draws its own post-training prompts (nested across B and n, so arms
  are paired by seed) and test prompts; R seeds x the B values train as one batched computation
  (numerics.gpt2.Ensemble).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from numerics import optim
from numerics import validation as check
from numerics.gpt2 import (Ensemble, GPT2Config, GPT2WeightPredictor, rollout, stack_parameters, teacher_forced)
from numerics.sampling import paper_covariance, paper_shift
from numerics.streams import torch_generator

ETA = 0.5
PRETRAIN_K = 8
K_TEST = 3
METHODS = ("SFT", "OS")
SWEEPS = ("B", "n", "k")


@dataclass(frozen=True)
class Fig3Protocol:
    """Every size and step of the Figure 3 experiment (module docstring: stated vs chosen)."""
    d: int = 20
    n_layer: int = 12
    n_head: int = 8
    n_embd: int = 256
    batch: int = 64
    pretrain_steps: int = 20000
    pretrain_lr: float = 2e-4
    ramp: float = 0.5
    sft_steps: int = 100
    os_steps: int = 12000
    post_lr: float = 1e-4
    test_prompts: int = 1024
    seeds: int = 10
    base_B: int = 256
    base_n: int = 20
    base_k: int = 3
    Bs: tuple = (16, 64, 256, 1024, 4096)
    ns: tuple = (5, 10, 20, 40)
    ks: tuple = (1, 2, 3, 4, 6)
    group: int = 25             # at most this many models trained as one batched computation (GPU memory)

    def __post_init__(self):
        for name in ("d", "n_layer", "n_head", "n_embd", "batch", "pretrain_steps", "sft_steps", "os_steps",
                     "test_prompts", "seeds", "base_B", "base_n", "base_k", "group"):
            check.positive_int(name, getattr(self, name))
        if self.seeds < 2:
            raise check.ValidationError(f"parameter 'seeds': must be >= 2 for error bars, got {self.seeds}")
        if not 0 <= self.ramp <= 1:
            raise check.ValidationError(f"parameter 'ramp': must be in [0, 1], got {self.ramp}")
        for name in ("Bs", "ns", "ks"):
            values = getattr(self, name)
            if not values or any(int(v) < 1 for v in values):
                raise check.ValidationError(f"parameter '{name}': must be positive integers, got {values!r}")

    @property
    def n_max(self) -> int:
        return max(max(self.ns), self.base_n)

    @property
    def k_max(self) -> int:
        return max(PRETRAIN_K, K_TEST, self.base_k, *self.ks)

    def model_config(self) -> GPT2Config:
        return GPT2Config(d=self.d, n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd,
                          n_positions=2 * self.n_max + 2 + 2 * self.k_max)

    def pretraining_config(self) -> dict:
        """What the pretrained checkpoint depends on (its cache key)."""
        keys = ("d", "n_layer", "n_head", "n_embd", "batch", "pretrain_steps", "pretrain_lr", "ramp")
        return {**{key: getattr(self, key) for key in keys}, "n_max": self.n_max, "k_max": self.k_max,
                "pretrain_k": PRETRAIN_K, "eta": ETA}

    def as_dict(self) -> dict:
        return {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}


PAPER = Fig3Protocol()
# --small: 2 layers, 2 heads, 32-dim, d = 5, batch 16, 100 OS steps: minutes on 2 CPU cores (README: times).
# Post-training Adam at 1e-4 as at paper scale: at 1e-3 every post-trained model ended worse than its start (measured)
SMALL = Fig3Protocol(d=5, n_layer=2, n_head=2, n_embd=32, batch=16, pretrain_steps=1500, pretrain_lr=2e-3,
                     sft_steps=100, os_steps=100, post_lr=1e-4, test_prompts=256, seeds=4, base_B=16, base_n=8,
                     Bs=(4, 16, 64), ns=(4, 8, 16), ks=(1, 3, 5), group=20)
# the claims' quick profile and the tests: one layer, 16-dim, seconds
TINY = replace(SMALL, n_layer=1, n_embd=16, pretrain_steps=300, sft_steps=40, os_steps=40, test_prompts=128,
               seeds=4, base_B=16, base_n=6, Bs=(4, 16, 64), ns=(3, 6, 12), ks=(1, 4))
PROFILES = {"paper": PAPER, "small": SMALL, "tiny": TINY}


def profile(name: str) -> Fig3Protocol:
    return PROFILES[check.one_of("profile", name, set(PROFILES))]


def checked_device(device) -> torch.device:
    """``device`` as a torch.device; 'cuda' without a visible GPU is a one-line error."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise check.ValidationError(f"parameter 'device': must be 'cpu' or 'cuda', got {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise check.ValidationError("parameter 'device': 'cuda' requested but torch sees no CUDA device")
    return device


# --------------------------------------------------------------------------- data

def covariances(d: int):
    """(Σ_0, Σ_0 + Δ) diagonals of Section 8 (Δ's support is a reconstruction: the first d/5 coordinates)."""
    sigma0 = np.diag(paper_covariance(d))
    return sigma0, sigma0 + np.diag(paper_shift(d))


def sample_prompts(variances, n: int, prompts: int, generator, runs: int = 1, active: int | None = None):
    """R x P prompts of n examples: x ~ N(0, diag(variances)), w* ~ N(0, I_d), y = ⟨w*, x⟩ (noiseless, Sec. 3).
    Coordinates from ``active`` on are zero in x and w* (the curriculum's smaller dimension).

    Returns x (R, P, n, d), y (R, P, n), w* (R, P, d) in float32 on the CPU."""
    d = len(variances)
    scale = torch.as_tensor(np.sqrt(variances), dtype=torch.float32)
    x = torch.randn(runs, prompts, n, d, generator=generator) * scale
    w = torch.randn(runs, prompts, d, generator=generator)
    if active is not None and active < d:
        x[..., active:] = 0.0
        w[..., active:] = 0.0
    y = torch.einsum("rpnd,rpd->rpn", x, w)
    return x, y, w


def cot_path(w, steps: int, eta: float = ETA):
    """w_1..w_steps of Section 3: w_i = (1 - (1 - η)^i) w*. (..., d) -> (..., steps, d)."""
    factors = 1.0 - (1.0 - eta) ** torch.arange(1, steps + 1, dtype=w.dtype, device=w.device)
    return factors[:, None] * w.unsqueeze(-2)


def sft_loss(model, x, y, w, k: int, weights=None):
    """L_SFT: (1/2) Σ_{i=0..k} ‖prediction at step i − w_{i+1}‖², teacher-forced, averaged over prompts
    (``weights`` (..., P) replace the plain mean). Returns one loss per leading index (run)."""
    targets = cot_path(w, k + 1)                               # (..., P, k + 1, d)
    predictions = teacher_forced(model, x, y, targets[..., :k, :])
    per_prompt = 0.5 * ((predictions - targets) ** 2).sum((-1, -2))
    return _average(per_prompt, weights)


def os_loss(model, x, y, w, k: int, weights=None):
    """L_OS of Eq. (3.4): (1/2) ‖ŵ_k − w*‖² after a k-step rollout, averaged over prompts."""
    final = rollout(model, x, y, k)[..., -1, :]
    return _average(0.5 * ((final - w) ** 2).sum(-1), weights)


def _average(per_prompt, weights):
    return per_prompt.mean(-1) if weights is None else (per_prompt * weights).sum(-1)


LOSSES = {"SFT": sft_loss, "OS": os_loss}


@torch.no_grad()
def test_loss(model, x, y, w, k: int = K_TEST, chunk: int = 256):
    """E‖ŵ_k − w*‖² / d per run on the test prompts (..., P, n, d), in chunks of prompts."""
    total = 0.0
    for start in range(0, x.shape[-3], chunk):
        part = slice(start, start + chunk)
        final = rollout(model, x[..., part, :, :], y[..., part, :], k)[..., -1, :].float()
        total = total + ((final - w[..., part, :].float()) ** 2).sum((-1, -2))
    return total / (x.shape[-3] * x.shape[-1])


def _autocast(device):
    """bf16 autocast on a GPU, nothing on the CPU (float32 there)."""
    kind = torch.device(device).type
    return torch.autocast("cuda", dtype=torch.bfloat16) if kind == "cuda" else _nothing()


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------- pretraining

def curriculum(step: int, steps: int, d: int, n_max: int, ramp: float):
    """(active dimension, prompt length) at ``step``: linear from (⌈d/4⌉, ⌈n_max/4⌉) to (d, n_max) over the
    first ``ramp`` fraction of the steps (Garg et al. 2022 grow both in stages; here one step per stage)."""
    fraction = 1.0 if ramp == 0 else min(1.0, step / max(1.0, ramp * steps))
    d_start, n_start = max(1, math.ceil(d / 4)), max(1, math.ceil(n_max / 4))
    return (int(round(d_start + fraction * (d - d_start))), int(round(n_start + fraction * (n_max - n_start))))


def pretrain(protocol: Fig3Protocol, seed: int, device="cpu", log=None) -> dict:
    """CoT pretraining on Σ_0 (k = 8, teacher-forced L_SFT on fresh prompts each step, curriculum); returns the
    state dict (CPU tensors) and the loss trace."""
    config = protocol.model_config()
    with torch.random.fork_rng(devices=[]):                  # the initialisation's own stream; global RNG untouched
        torch.manual_seed(_int_seed(seed, "fig3 pretraining", "init"))
        model = GPT2WeightPredictor(config).to(device)
    # numerics.optim.Adam: torch's foreach form (one call over all parameter tensors, the same updates as its
    # per-tensor loop) without torch.optim's import of torch._dynamo
    optimizer = optim.Adam(model.parameters(), lr=protocol.pretrain_lr)
    sigma0, _ = covariances(protocol.d)
    generator = torch_generator(seed, "fig3 pretraining", "prompts")
    trace = []
    for step in range(protocol.pretrain_steps):
        active, n_cur = curriculum(step, protocol.pretrain_steps, protocol.d, protocol.n_max, protocol.ramp)
        # every prompt length up to the curriculum's: Garg et al. supervise every prefix of a prompt; here ŵ is
        # read only at the end, so a model trained at one length alone fails at shorter ones (measured)
        n = int(torch.randint(1, n_cur + 1, (1,), generator=generator))
        x, y, w = (t[0].to(device) for t in sample_prompts(sigma0, n, protocol.batch, generator, active=active))
        with _autocast(device):
            loss = sft_loss(model, x, y, w, PRETRAIN_K)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == protocol.pretrain_steps - 1:
            trace.append((step, float(loss.detach())))
            if log:
                log(f"pretraining step {step}: loss {float(loss.detach()):.4g} (d {active}, n {n})")
    return {"state": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "trace": trace}


def _int_seed(seed: int, *names) -> int:
    from numerics.streams import stream_seed
    return stream_seed(seed, *names)


def pretrained_model(protocol: Fig3Protocol, seed: int = 0, device="cpu", cache: bool = True, log=None):
    """The pretrained model of ``protocol`` (and ``seed``), computed once and then read from the task cache
    (numerics/sweep: key = content hash of the pretraining config, the seed and the code version; location
    ``$PROOFS_CHECK_CACHE`` or ``~/.cache/lsa-theory-check``, subfolder ``gpt2``). Returns (model, record)."""
    from numerics.sweep import Task, default_cache_root
    from numerics.sweep.cache import open_cache
    task = Task("numerics.experiments.gpt2:pretrain", {**protocol.pretraining_config(), "seed": seed},
                label="fig3 pretraining")
    store = None
    if cache:
        try:
            store = open_cache(default_cache_root() / "gpt2")
        except check.ValidationError:      # an unwritable cache only costs the recomputation
            store = None
    from numerics.threads import current_threads
    key = task.key(current_threads())
    record = store.get(key) if store is not None else None
    if record is None:
        record = pretrain(protocol, seed, "cpu" if device is None else device, log)
        if store is not None:
            store.set(key, record)
    if store is not None:
        store.close()
    model = GPT2WeightPredictor(protocol.model_config())
    model.load_state_dict(record["state"])
    return model.to(device), record


# --------------------------------------------------------------------------- post-training

@dataclass(frozen=True)
class Arm:
    """One post-training point: B prompts of length n, CoT length k (tested with k = 3)."""
    B: int
    n: int
    k: int


def seed_indices(protocol: Fig3Protocol, seeds=None) -> range:
    """The seed indices to train: ``range(protocol.seeds)`` by default, or a non-empty ``range`` of them. Every
    seed index has its own streams (prompts, test set, minibatches) and its runs are independent of the other
    seeds' (batched ensembles, elementwise Adam), so seeds [a, c) equal seeds [a, b) followed by [b, c) (bitwise
    on the CPU, tests/test_gpt2.py; on a GPU a kernel may depend on the batch size, so to rounding): a re-check
    on more seeds trains only the new ones."""
    if seeds is None:
        return range(protocol.seeds)
    if not isinstance(seeds, range) or len(seeds) < 1 or seeds.step != 1 or seeds.start < 0:
        raise check.ValidationError(f"parameter 'seeds': must be a non-empty range of seed indices >= 0 with "
                                    f"step 1, got {seeds!r}")
    return seeds


def post_training_pool(protocol: Fig3Protocol, seed: int, B_max: int, n_max: int, seeds=None):
    """Per seed, B_max post-training prompts of n_max examples from Σ_0 + Δ: an arm (B, n) takes the first B
    prompts and their first n examples (nested, so arms are paired by seed). (R, B_max, n_max, ·)."""
    _, sigma = covariances(protocol.d)
    draws = [sample_prompts(sigma, n_max, B_max, torch_generator(seed, "fig3 post-training", f"seed={r}"))
             for r in seed_indices(protocol, seeds)]
    return tuple(torch.cat(parts) for parts in zip(*draws))


def test_set(protocol: Fig3Protocol, seed: int, n_max: int, seeds=None):
    """Per seed, test prompts from Σ_0 + Δ (n_max examples; an arm uses the first n)."""
    _, sigma = covariances(protocol.d)
    draws = [sample_prompts(sigma, n_max, protocol.test_prompts, torch_generator(seed, "fig3 test", f"seed={r}"))
             for r in seed_indices(protocol, seeds)]
    return tuple(torch.cat(parts) for parts in zip(*draws))


def _minibatch(B: int, batch: int, generator):
    """Indices and weights of one minibatch: min(B, batch) prompts without replacement, padded to ``batch``
    (padding weight 0) so arms with different B train in one batched computation."""
    size = min(B, batch)
    index = torch.zeros(batch, dtype=torch.long)
    weight = torch.zeros(batch)
    index[:size] = torch.randperm(B, generator=generator)[:size]
    weight[:size] = 1.0 / size
    return index, weight


def post_train(protocol: Fig3Protocol, method: str, arms, seed: int, device="cpu", pretrained=None, seeds=None):
    """Post-train the pretrained model with ``method`` ('SFT' or 'OS') at every arm (all with one n and one k:
    only B differs) for every seed (``seeds``: a range of seed indices, :func:`seed_indices`; default all of
    ``protocol.seeds``), as batched ensembles of at most ``protocol.group`` models.

    Returns
    -------
    dict with ``loss`` (seeds, arms): test loss after post-training, and ``start`` (seeds,): the pretrained
    model's test loss at that n (k = 3).
    """
    method = check.one_of("method", method, set(METHODS))
    if len({(a.n, a.k) for a in arms}) != 1:
        raise check.ValidationError("parameter 'arms': one batched group must share n and k")
    n, k = arms[0].n, arms[0].k
    steps = protocol.sft_steps if method == "SFT" else protocol.os_steps
    model = pretrained if pretrained is not None else pretrained_model(protocol, seed, device)[0]
    model = model.to(device)
    seeds = seed_indices(protocol, seeds)
    pool = post_training_pool(protocol, seed, max(a.B for a in arms), n, seeds)
    tests = [t.to(device) for t in test_set(protocol, seed, n, seeds)]
    jobs = [(a, row, r) for a in arms for row, r in enumerate(seeds)]   # row: the seed's place in pool / tests
    losses = torch.empty(len(jobs))
    for start in range(0, len(jobs), protocol.group):
        chunk = jobs[start:start + protocol.group]
        losses[start:start + len(chunk)] = _train_group(protocol, method, model, chunk, pool, tests, steps, k,
                                                        seed, device)
    with _autocast(device):
        start_loss = test_loss(model, *tests)                      # the plain model over every seed's test set
    return {"loss": losses.reshape(len(arms), len(seeds)).T.numpy().astype(float),
            "start": start_loss.float().cpu().numpy().astype(float)}


def _train_group(protocol, method, model, jobs, pool, tests, steps: int, k: int, seed: int, device):
    """Train len(jobs) copies of ``model`` at once (job = (arm, row in pool / tests, seed index)); return
    their test losses."""
    params = stack_parameters([model] * len(jobs))
    params = {name: p.to(device).detach().requires_grad_(True) for name, p in params.items()}
    ensemble = Ensemble(model.config, params)
    optimizer = optim.Adam(params.values(), lr=protocol.post_lr)   # as in pretrain()
    runs = torch.tensor([row for _, row, _ in jobs])
    generators = [torch_generator(seed, "fig3", method, "minibatches", f"B={a.B}", f"n={a.n}", f"k={a.k}",
                                  f"seed={r}") for a, _, r in jobs]
    x_pool, y_pool, w_pool = (t[runs] for t in pool)           # (R, B_max, n, ·) per job
    loss_fn = LOSSES[method]
    for _ in range(steps):
        picks = [_minibatch(a.B, protocol.batch, g) for (a, _, _), g in zip(jobs, generators)]
        index = torch.stack([p[0] for p in picks])                 # (R, batch)
        weight = torch.stack([p[1] for p in picks]).to(device)
        rows = torch.arange(len(jobs))[:, None]
        x, y, w = (t[rows, index].to(device) for t in (x_pool, y_pool, w_pool))
        with _autocast(device):
            loss = loss_fn(ensemble, x, y, w, k, weight).sum()    # runs are independent: the sum's gradient
        optimizer.zero_grad(set_to_none=True)                       # is each run's own gradient
        loss.backward()
        optimizer.step()
    x_test, y_test, w_test = (t[runs.to(t.device)] for t in tests)
    with _autocast(device):
        return test_loss(ensemble, x_test, y_test, w_test).float().cpu()


def sweep_arms(protocol: Fig3Protocol, sweep: str):
    """The arms of one panel, grouped so that each group shares n and k: the B sweep is one group."""
    sweep = check.one_of("sweep", sweep, set(SWEEPS))
    base = Arm(protocol.base_B, protocol.base_n, protocol.base_k)
    if sweep == "B":
        return [[replace(base, B=int(b)) for b in protocol.Bs]]
    if sweep == "n":
        return [[replace(base, n=int(v))] for v in protocol.ns]
    return [[replace(base, k=int(v))] for v in protocol.ks]


def panel(protocol: Fig3Protocol, method: str, sweep: str, seed: int, device="cpu", pretrained=None,
          seeds=None) -> dict:
    """One panel of Figure 3: test loss after ``method`` against ``sweep`` (B, n or k), every seed (or the
    seed indices in the range ``seeds``).

    Returns ``values`` (the swept values), ``loss`` (seeds, values) and ``start`` (seeds, values): the
    pretrained model's loss at each value's n."""
    if pretrained is None:
        pretrained = pretrained_model(protocol, seed, device)[0]
    losses, starts = [], []
    for arms in sweep_arms(protocol, sweep):
        result = post_train(protocol, method, arms, seed, device, pretrained, seeds)
        losses.append(result["loss"])
        starts.append(np.repeat(result["start"][:, None], len(arms), axis=1))
    values = [getattr(arm, sweep) for arms in sweep_arms(protocol, sweep) for arm in arms]
    return {"values": values, "loss": np.concatenate(losses, axis=1), "start": np.concatenate(starts, axis=1)}


# --------------------------------------------------------------------------- the LSA theory at the same points

def lsa_sft_prediction(protocol: Fig3Protocol, arms, seed: int, draws: int = 200) -> np.ndarray:
    """The LSA theory's SFT post-test error at each arm's (B, n): Err(Ṽ*)/d with Ṽ* of Theorem 4.1 (η = ETA,
    from Ṽ_0 = -Γ_0⁻¹ at n) and Err of Prop. 5.1 on Σ_0 + Δ, averaged over ``draws`` prompt sets of B prompts
    from Σ_0 + Δ (exact in the prompts: numerics.sft.task_moments). The theory's minimiser does not depend on
    k. Returns (len(arms),)."""
    from numerics import sft
    sigma0, sigma = (np.diag(v) for v in covariances(protocol.d))
    out = []
    for arm in arms:
        phi, omega = sft.task_moments(arm.n, arm.B, sigma, torch_generator(seed, "fig3 lsa theory", f"B={arm.B}",
                                                                            f"n={arm.n}"), batch=(draws,))
        v = sft.sft_optimum(phi, omega, sigma0, arm.n, ETA)
        out.append(float(torch.as_tensor(sft.post_test_error(v, sigma, arm.n)).mean()) / protocol.d)
    return np.asarray(out)
