"""Plain optimisers for the training loops: gradient descent, Adam and L-BFGS.

Each makes the updates torch.optim's makes (SGD without momentum, Adam, L-BFGS with its strong-Wolfe line search),
bitwise on the CPU (tests/test_optim.py runs both side by side), without ``torch.optim.Optimizer``. Why: the first
optimizer a process constructs imports ``torch._dynamo`` (``Optimizer.add_param_group`` is wrapped in
``torch._disable_dynamo``), 2.1 s on the 2-core machine, paid by every ``proofs-check verify`` of a trained level and
by each worker of ``proofs-check all``; and each ``Optimizer.step`` runs hooks and a profiler record (~0.2 ms, a
tenth of a small outcome-supervision step). Nothing here compiles anything, so dynamo is never needed.

The schedules are applied by the caller (``optimizer.lr = base * factor(step)``), as ``LambdaLR`` does.
"""
from __future__ import annotations

import math

import torch
from torch.optim.lbfgs import _strong_wolfe   # the line search itself (a pure function; parity tested)


def cosine_factor(step: int, steps: int) -> float:
    """The cosine decay to zero used by the training loops: lr_t = lr · ½(1 + cos(π t / steps))."""
    return 0.5 * (1 + math.cos(math.pi * step / steps))


class _Optimizer:
    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("parameter 'params': an optimizer needs at least one tensor, got none")
        self.lr = float(lr)

    def zero_grad(self, set_to_none: bool = True):
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()


class GradientDescent(_Optimizer):
    """θ ← θ − lr ∇L (torch.optim.SGD without momentum or weight decay: ``p.add_(grad, alpha=-lr)``)."""

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-self.lr)


class Adam(_Optimizer):
    """Adam (Kingma & Ba) as torch.optim.Adam computes it (no AMSGrad, no weight decay), one foreach call per
    operation over all parameters (torch's ``foreach=True`` form; its single-tensor form gives the same updates)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    @torch.no_grad()
    def step(self):
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [self.params[i].grad for i in live]
        exp_avg = [self.exp_avg[i] for i in live]
        exp_avg_sq = [self.exp_avg_sq[i] for i in live]
        self.steps += 1
        torch._foreach_lerp_(exp_avg, grads, 1 - self.beta1)
        torch._foreach_mul_(exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - self.beta2)
        correction1 = 1 - self.beta1 ** float(self.steps)
        correction2 = 1 - self.beta2 ** float(self.steps)
        denominator = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denominator, correction2 ** 0.5)
        torch._foreach_add_(denominator, self.eps)
        torch._foreach_addcdiv_(params, exp_avg, denominator, (self.lr / correction1) * -1)


class LBFGS(_Optimizer):
    """L-BFGS as torch.optim.LBFGS runs it (one parameter group; ``line_search_fn`` None or 'strong_wolfe').
    ``step(closure)`` may be called again: the curvature history carries over, as in torch."""

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        super().__init__(params, lr)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError("parameter 'line_search_fn': only None or 'strong_wolfe'")
        self.max_iter, self.max_eval = max_iter, max_iter * 5 // 4 if max_eval is None else max_eval
        self.tolerance_grad, self.tolerance_change = tolerance_grad, tolerance_change
        self.history_size, self.line_search_fn = history_size, line_search_fn
        self.state = {"func_evals": 0, "n_iter": 0}
        self._numel = sum(p.numel() for p in self.params)

    def _flat_grad(self):
        return torch.cat([p.new(p.numel()).zero_() if p.grad is None else p.grad.view(-1) for p in self.params])

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self.params:
            p.add_(update[offset:offset + p.numel()].view_as(p), alpha=step_size)
            offset += p.numel()

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._flat_grad()
        for p, data in zip(self.params, x):
            p.copy_(data)
        return loss, flat_grad

    @torch.no_grad()
    def step(self, closure):
        closure = torch.enable_grad()(closure)
        state = self.state
        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if flat_grad.abs().max() <= self.tolerance_grad:
            return orig_loss
        d, t, old_dirs, old_stps, ro, h_diag, prev_flat_grad, prev_loss = (
            state.get(key) for key in ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
                                       "prev_loss"))
        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:                      # steepest descent first
                d = flat_grad.neg()
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:                                         # the two-loop recursion over the kept pairs
                y = flat_grad.sub(prev_flat_grad)
                s = d.mul(t)
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == self.history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                alphas = state.setdefault("al", [None] * self.history_size)
                q = flat_grad.neg()
                for i in range(len(old_dirs) - 1, -1, -1):
                    alphas[i] = old_stps[i].dot(q) * ro[i]
                    q.add_(old_dirs[i], alpha=-alphas[i])
                d = r = torch.mul(q, h_diag)
                for i in range(len(old_dirs)):
                    beta = old_dirs[i].dot(r) * ro[i]
                    r.add_(old_stps[i], alpha=alphas[i] - beta)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * self.lr if state["n_iter"] == 1 else self.lr
            gtd = flat_grad.dot(d)
            if gtd > -self.tolerance_change:
                break
            if self.line_search_fn is not None:
                start = [p.clone(memory_format=torch.contiguous_format) for p in self.params]
                loss, flat_grad, t, evals = _strong_wolfe(
                    lambda x, step, direction: self._directional_evaluate(closure, x, step, direction),
                    start, t, d, loss, flat_grad, gtd, max_ls=self.max_eval - current_evals)
                self._add_grad(t, d)
                optimal = flat_grad.abs().max() <= self.tolerance_grad
            else:
                self._add_grad(t, d)
                evals, optimal = 0, False
                if n_iter != self.max_iter:
                    with torch.enable_grad():
                        loss = closure()
                    loss = float(loss)
                    flat_grad = self._flat_grad()
                    optimal = flat_grad.abs().max() <= self.tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals
            if n_iter == self.max_iter or current_evals >= self.max_eval or optimal:
                break
            if d.mul(t).abs().max() <= self.tolerance_change or abs(loss - prev_loss) < self.tolerance_change:
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
