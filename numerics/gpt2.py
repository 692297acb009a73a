"""A GPT-2 decoder for the in-context weight-prediction task of Figure 3 (arXiv:2603.01293, Section 8).

The architecture is GPT-2's exactly (Radford et al. 2019, as in nanoGPT and ``transformers.GPT2Model``):
learned positional embeddings, pre-LayerNorm blocks, causal multi-head self-attention, a 4x GELU MLP
(tanh approximation: GPT-2's ``gelu_new``), a final LayerNorm. ``tests/test_gpt2.py`` loads the same weights
into ``transformers.GPT2Model`` and compares hidden states to 1e-5. Around it, as Section 8 describes, a
learned linear read-in maps each d-dim token into the embedding space and a learned linear read-out maps
the last hidden state to the d-dim predicted weight vector ŵ.

Prompt tokens (all d-dimensional, the paper's ``(x_1, y_1, ..., x_n, y_n, w_0, 1)``):

* ``x_i`` as is; ``y_i`` zero-padded to d, ``(y_i, 0, ..., 0)`` (Garg et al. 2022);
* ``w_0 = 0_d``;
* the constant token ``1`` is the all-ones vector ``1_d`` (our choice: the paper does not say how it is
  embedded; learned positions already tell the token types apart, this only gives it a non-zero input).

Chain of thought: the prediction ŵ_{i+1} is read out at the last token, a ``1``. Each step appends the pair
``(ŵ_{i+1}, 1)`` — the two entries of the paper's appended column ``[0_d, ŵ_{i+1}, 1]`` of Eq. (3.3) as
two tokens, mirroring the prompt's ``(w_0, 1)`` — so after i steps the sequence has 2n + 2 + 2i tokens and
every prediction is read at a ``1`` token. Teacher forcing (SFT, CoT pretraining) feeds the ground-truth
path ``w_1, ..., w_k`` in one causal forward pass; outcome supervision rolls the model out, differentiably, each
step feeding only its two new tokens against the cached keys and values of the earlier ones (:class:`KVCache`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from numerics import validation as check


@dataclass(frozen=True)
class GPT2Config:
    """Sizes of the model. Paper scale (Section 8): 12 layers, 8 heads, 256-dim embeddings.

    Parameters
    ----------
    d : task dimension (length of x, w and of every token)
    n_layer, n_head, n_embd : GPT-2 sizes (``n_embd`` divisible by ``n_head``)
    n_positions : longest sequence, 2 n_max + 2 k_max tokens
    """
    d: int = 20
    n_layer: int = 12
    n_head: int = 8
    n_embd: int = 256
    n_positions: int = 96

    def __post_init__(self):
        for name in ("d", "n_layer", "n_head", "n_embd", "n_positions"):
            check.positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head:
            raise check.ValidationError(f"parameter 'n_embd': must be divisible by n_head={self.n_head}, "
                                        f"got {self.n_embd}")

    def as_dict(self) -> dict:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)   # q, k, v projections in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x, past=None):                           # x: (batch, T, C)
        batch, length, channels = x.shape
        q, k, v = self.c_attn(x).split(channels, dim=-1)      # each (batch, T, C)
        shape = (batch, length, self.n_head, channels // self.n_head)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))    # (batch, heads, T, C / heads)
        y = causal_attention(q, k, v, past)                               # (batch, heads, T, C / heads)
        y = y.transpose(1, 2).reshape(batch, length, channels)          # (batch, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):                                      # (batch, T, C) -> (batch, T, C)
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))   # GPT-2's gelu_new


class Block(nn.Module):
    """Pre-LayerNorm residual block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, past=None):                           # past: this layer's LayerCache, or None
        x = x + self.attn(self.ln_1(x), past)
        return x + self.mlp(self.ln_2(x))


class GPT2WeightPredictor(nn.Module):
    """Read-in -> GPT-2 (positions, blocks, final LayerNorm) -> read-out to ŵ (paper Section 8, Fig. 3)."""

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.read_in = nn.Linear(config.d, config.n_embd)       # token (d) -> embedding (C)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.read_out = nn.Linear(config.n_embd, config.d)      # embedding (C) -> ŵ (d)
        self.apply(_init_weights)
        for name, parameter in self.named_parameters():        # GPT-2's scaled init of residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def hidden_states(self, tokens, cache=None):               # tokens: (batch, T, d) -> (batch, T, C)
        """``cache`` (a :class:`KVCache`, or None): the tokens continue the sequence whose keys and values it
        holds (positions and the causal mask start after them), and it is extended by theirs."""
        _check_tokens(self.config, tokens, 3)
        past = 0 if cache is None else cache.length
        positions = _positions(self.config, past, tokens.shape[-2])
        x = self.read_in(tokens) + self.wpe.weight[positions]   # (batch, T, C)
        for index, block in enumerate(self.h):
            x = block(x, None if cache is None else cache.layer(index))
        return self.ln_f(x)

    def forward(self, tokens, cache=None):                     # (batch, T, d) -> (batch, T, d): ŵ read at each token
        return self.read_out(self.hidden_states(tokens, cache))


def _check_tokens(config: GPT2Config, tokens, dims: int) -> None:
    """Tokens of the model's width d, with the model's number of axes (shapes only: every forward calls this)."""
    if tokens.dim() != dims or tokens.shape[-1] != config.d:
        layout = "(batch, T, d)" if dims == 3 else "(R, batch, T, d)"
        raise check.ValidationError(f"parameter 'tokens': must be {layout} with the model's d = {config.d}, got "
                                    f"shape {tuple(tokens.shape)}")


def _positions(config: GPT2Config, past: int, length: int) -> slice:
    """The positions of ``length`` tokens after ``past`` earlier ones (a one-line error beyond n_positions)."""
    if past + length > config.n_positions:
        raise check.ValidationError(f"parameter 'n_positions': a sequence of {past + length} tokens needs "
                                    f"n_positions >= {past + length}, got {config.n_positions}")
    return slice(past, past + length)


# --------------------------------------------------------------------------- attention with cached keys and values

class LayerCache:
    """One layer's keys and values of the tokens seen so far, (batch, heads, T_past, C / heads) each."""

    def __init__(self):
        self.keys = self.values = None

    def extend(self, keys, values):
        """Append the new tokens' keys and values; return all of them (earlier tokens first)."""
        if self.keys is not None:
            keys, values = torch.cat((self.keys, keys), dim=-2), torch.cat((self.values, values), dim=-2)
        self.keys, self.values = keys, values
        return keys, values


class KVCache:
    """The keys and values of every layer for a sequence fed in pieces (:func:`rollout`): a causal model's
    hidden states at earlier tokens do not depend on later ones, so a CoT step feeds only its two new tokens
    instead of the whole sequence again. The same function of the inputs, to float rounding (the new tokens'
    attention is a masked call instead of a slice of the full causal one; tests/test_gpt2.py); gradients flow
    through the cached tensors as through the recomputed ones."""

    def __init__(self):
        self.layers: dict = {}

    @property
    def length(self) -> int:
        """Tokens seen so far: read off the first layer's keys (every layer holds as many), so a call of the model
        with the cache is all it takes to move on."""
        first = self.layers.get(0)
        return 0 if first is None or first.keys is None else first.keys.shape[-2]

    def layer(self, index: int) -> LayerCache:
        return self.layers.setdefault(index, LayerCache())


def causal_attention(q, k, v, past=None):
    """Causal scaled dot-product attention of q (N, heads, T, h) over k, v; with ``past`` (a
    :class:`LayerCache`) the T new tokens come after the cached ones: they attend to every cached token and
    causally among themselves (the mask aligned to the bottom right), and the cache is extended by k, v."""
    if past is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    earlier = 0 if past.keys is None else past.keys.shape[-2]
    k, v = past.extend(k, v)
    if earlier == 0:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    new = q.shape[-2]
    mask = torch.ones(new, earlier + new, dtype=torch.bool, device=q.device).tril(diagonal=earlier)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _init_weights(module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- R independent models at once

def stack_parameters(models) -> dict:
    """The parameters of R models of one config as one dict of leaf tensors with a leading runs axis (R, ...):
    R seeds train as one computation (batched matmuls), each seed's numbers unchanged, since the loss is a
    sum over runs and Adam acts elementwise."""
    names = [name for name, _ in models[0].named_parameters()]
    return {name: torch.stack([dict(m.named_parameters())[name].detach() for m in models]).requires_grad_(True)
            for name in names}


def unstack_parameters(params: dict, run: int) -> dict:
    """Run ``run``'s parameters, as a state dict for :class:`GPT2WeightPredictor`."""
    return {name: tensor[run].detach().clone() for name, tensor in params.items()}


class Ensemble:
    """R GPT-2 weight predictors of one config evaluated together: ``ensemble(tokens)`` maps (R, batch, T, d)
    to (R, batch, T, d). The same arithmetic as :class:`GPT2WeightPredictor` with every weight carrying a
    leading runs axis (a batched matmul per layer; attention over runs x batch as one SDPA call). Measured
    faster than ``torch.func.vmap`` over ``functional_call``, whose SDPA has no batching rule on CPU."""

    def __init__(self, config: GPT2Config, params: dict):
        self.config = config
        self.params = params

    @staticmethod
    def _linear(x, params, name):                             # x: (R, batch, T, in) -> (R, batch, T, out)
        weight, bias = params[name + ".weight"], params[name + ".bias"]    # (R, out, in), (R, out)
        flat = x.reshape(x.shape[0], -1, x.shape[-1])                      # (R, batch T, in): one bmm per layer
        out = torch.baddbmm(bias.unsqueeze(1), flat, weight.transpose(-1, -2))
        return out.reshape(*x.shape[:-1], weight.shape[-2])

    @staticmethod
    def _layer_norm(x, params, name):
        weight, bias = params[name + ".weight"], params[name + ".bias"]    # (R, C)
        return F.layer_norm(x, x.shape[-1:]) * weight[:, None, None, :] + bias[:, None, None, :]

    def hidden_states(self, tokens, cache=None):               # (R, batch, T, d) -> (R, batch, T, C)
        """``cache``: as :meth:`GPT2WeightPredictor.hidden_states` (a :class:`KVCache`, or None)."""
        _check_tokens(self.config, tokens, 4)
        p, runs, batch, length = self.params, *tokens.shape[:3]
        past = 0 if cache is None else cache.length
        positions = _positions(self.config, past, length)
        heads, channels = self.config.n_head, self.config.n_embd
        x = self._linear(tokens, p, "read_in") + p["wpe.weight"][:, None, positions, :]
        for index in range(self.config.n_layer):
            h = f"h.{index}."
            q, k, v = self._linear(self._layer_norm(x, p, h + "ln_1"), p, h + "attn.c_attn").split(channels, -1)
            shape = (runs * batch, length, heads, channels // heads)
            q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))     # (R batch, heads, T, C / heads)
            y = causal_attention(q, k, v, None if cache is None else cache.layer(index))
            y = y.transpose(1, 2).reshape(runs, batch, length, channels)
            x = x + self._linear(y, p, h + "attn.c_proj")
            hidden = F.gelu(self._linear(self._layer_norm(x, p, h + "ln_2"), p, h + "mlp.c_fc"), approximate="tanh")
            x = x + self._linear(hidden, p, h + "mlp.c_proj")
        return self._layer_norm(x, p, "ln_f")

    def __call__(self, tokens, cache=None):                    # (R, batch, T, d) -> (R, batch, T, d)
        return self._linear(self.hidden_states(tokens, cache), self.params, "read_out")


# --------------------------------------------------------------------------- prompts and chains of thought

def prompt_tokens(x, y):
    """The prompt (x_1, y_1, ..., x_n, y_n, w_0 = 0, 1) as tokens.

    Parameters
    ----------
    x : (..., n, d) inputs; y : (..., n) labels.

    Returns
    -------
    (..., 2n + 2, d) tokens (module docstring: y zero-padded, w_0 = 0_d, the constant token 1_d).
    """
    _, d = check.prompt_shapes(x, y)
    y_tokens = F.pad(y.unsqueeze(-1), (0, d - 1))              # (..., n, d): (y, 0, ..., 0)
    pairs = torch.stack((x, y_tokens), dim=-2).flatten(-3, -2)   # (..., 2n, d): x_1, y_1, x_2, ...
    w0 = torch.zeros_like(x[..., :1, :])                       # (..., 1, d)
    return torch.cat((pairs, w0, torch.ones_like(w0)), dim=-2)


def step_tokens(w):
    """The pair (ŵ, 1) a CoT step appends: (..., d) -> (..., 2, d)."""
    return torch.stack((w, torch.ones_like(w)), dim=-2)


def teacher_forced(model, x, y, path):
    """Predictions ŵ_1..ŵ_{k+1} given the ground-truth CoT ``path`` (..., k, d) = (w_1, ..., w_k), in one
    causal forward pass over (prompt, w_1, 1, ..., w_k, 1). Returns (..., k + 1, d)."""
    if path.dim() < 2 or tuple(path.shape[:-2]) != tuple(x.shape[:-2]) or path.shape[-1] != x.shape[-1]:
        raise check.ValidationError(f"parameter 'path': must be (..., k, d) with x's leading axes and d, "
                                    f"x {tuple(x.shape)}, got shape {tuple(path.shape)}")
    k = path.shape[-2]
    chain = torch.stack((path, torch.ones_like(path)), dim=-2).flatten(-3, -2)    # (..., 2k, d)
    tokens = torch.cat((prompt_tokens(x, y), chain), dim=-2)                      # (..., 2n + 2 + 2k, d)
    out = _apply(model, tokens)
    return out[..., 2 * x.shape[-2] + 1::2, :][..., : k + 1, :]                   # at every `1` token


def rollout(model, x, y, k: int, reuse_keys: bool = True):
    """k CoT steps: ŵ_{i+1} read at the last token, (ŵ_{i+1}, 1) appended. Returns ŵ_1..ŵ_k (..., k, d)
    (differentiable: outcome supervision trains through the whole chain).

    ``reuse_keys``: each step after the first feeds only its two new tokens, attending to the earlier tokens'
    cached keys and values (:class:`KVCache`): 2n + 2 + 2(k - 1) token passes instead of k(2n + 2) + k(k - 1).
    False recomputes the whole sequence at every step (the reference it is tested against: equal to float
    rounding, values and gradients; benchmarks/bench_rollout.py times both)."""
    k = check.positive_int("k", k)
    cache = KVCache() if reuse_keys else None
    tokens = prompt_tokens(x, y)
    estimates = []
    for step in range(k):
        w = _apply(model, tokens, cache)[..., -1, :]           # (..., d)
        estimates.append(w)
        if step + 1 < k:
            new = step_tokens(w)                               # (..., 2, d)
            tokens = new if reuse_keys else torch.cat((tokens, new), dim=-2)
    return torch.stack(estimates, dim=-2)


def _apply(model, tokens, cache=None):
    """The model on tokens with any number of leading batch axes (an :class:`Ensemble` takes (R, batch, T, d));
    with ``cache`` the tokens continue its sequence (and extend it)."""
    if isinstance(model, Ensemble):
        return model(tokens, cache)
    lead = tokens.shape[:-2]
    out = model(tokens.reshape(-1, *tokens.shape[-2:]), cache)
    return out.reshape(*lead, *out.shape[-2:])


def sequence_length(n: int, k: int) -> int:
    """Tokens the model sees at the last of k CoT steps on a prompt of n examples (teacher forcing with k
    supervised steps needs 2n + 2 + 2k)."""
    return 2 * n + 2 + 2 * k


# --------------------------------------------------------------------------- transformers interoperability

def transformers_state_dict(model: GPT2WeightPredictor) -> dict:
    """The transformer's weights under ``transformers.GPT2Model``'s names (its Conv1D stores (in, out):
    our Linear (out, in) weights are transposed). Read-in and read-out are not part of GPT2Model."""
    out = {"wpe.weight": model.wpe.weight.detach().clone(),
           "wte.weight": torch.zeros(1, model.config.n_embd),   # unused: inputs come as inputs_embeds
           "ln_f.weight": model.ln_f.weight.detach().clone(), "ln_f.bias": model.ln_f.bias.detach().clone()}
    for index, block in enumerate(model.h):
        for name, tensor in block.state_dict().items():
            key = f"h.{index}.{name}"
            if name.endswith(".weight") and not name.startswith("ln_"):
                tensor = tensor.t()
            out[key] = tensor.detach().clone().contiguous()
    return out


def transformers_config_kwargs(config: GPT2Config) -> dict:
    """Keyword arguments of ``transformers.GPT2Config`` for the same architecture (dropout 0, gelu_new)."""
    return dict(vocab_size=1, n_positions=config.n_positions, n_embd=config.n_embd, n_layer=config.n_layer,
                n_head=config.n_head, activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0,
                attn_pdrop=0.0, layer_norm_epsilon=1e-5, scale_attn_weights=True, bos_token_id=0,
                eos_token_id=0)
