"""numerics.optim makes torch.optim's updates, bitwise, without importing torch._dynamo."""
import subprocess
import sys

import pytest
import torch

from numerics import optim


def _problem(dtype, seed=0):
    """Three parameters of different shapes and a non-quadratic loss coupling them."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [(4, 3, 3), (5,), (2, 6)]
    start = [torch.randn(*shape, generator=generator, dtype=dtype) for shape in shapes]
    target = [torch.randn(*shape, generator=generator, dtype=dtype) for shape in shapes]

    def loss(params):
        a, b, c = params
        return (((a - target[0]) ** 2).sum() + torch.cosh(b - target[1]).sum()
                + ((c - target[2]) ** 4).sum() + (a.sum() * b.sum()) ** 2 / 10)
    return start, loss


def _clones(start):
    return [p.clone().requires_grad_(True) for p in start]


def _descend(params, optimizer, loss, schedule, steps=60):
    base = optimizer.lr if hasattr(optimizer, "lr") else optimizer.param_groups[0]["lr"]
    torch_schedule = None if hasattr(optimizer, "lr") else torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule(step, steps))
    for step in range(steps):
        if torch_schedule is None:
            optimizer.lr = base * schedule(step, steps)
        value = loss(params)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        if torch_schedule is not None:
            torch_schedule.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["gd", "adam", "adam-foreach"])
def test_gradient_descent_and_adam_match_torch_optim_bitwise(dtype, kind):
    start, loss = _problem(dtype)
    ours, theirs = _clones(start), _clones(start)
    if kind == "gd":
        mine, reference = optim.GradientDescent(ours, lr=0.01), torch.optim.SGD(theirs, lr=0.01)
    else:
        mine = optim.Adam(ours, lr=0.03)
        reference = torch.optim.Adam(theirs, lr=0.03, foreach=kind == "adam-foreach")
    got = _descend(ours, mine, loss, optim.cosine_factor)
    expected = _descend(theirs, reference, loss, optim.cosine_factor)
    moved = max(float((g - s).abs().max()) for g, s in zip(got, start))
    assert moved > 1e-2                                       # the comparison is not of two start points
    for g, e in zip(got, expected):
        assert torch.equal(g, e)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_matches_torch_optim_bitwise_across_repeated_steps(line_search):
    start, loss = _problem(torch.float64, seed=3)
    runs = []
    for make in (optim.LBFGS, torch.optim.LBFGS):
        params = _clones(start)
        optimizer = make(params, lr=1.0 if line_search else 0.05, max_iter=15, history_size=5,
                         tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn=line_search)

        def closure():
            optimizer.zero_grad()
            value = loss(params)
            value.backward()
            return value
        values = [float(optimizer.step(closure).detach()) for _ in range(4)]   # the history carries over between calls
        runs.append((values, [p.detach() for p in params]))
    (ours, our_params), (theirs, their_params) = runs
    assert ours == theirs and ours[-1] < ours[0]
    for a, b in zip(our_params, their_params):
        assert torch.equal(a, b)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="parameter 'params'"):
        optim.Adam([], lr=0.1)
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([torch.zeros(2, requires_grad=True)], line_search_fn="backtracking")


def test_training_with_them_imports_no_dynamo():
    code = ("import sys, torch\n"
            "from numerics import optim\n"
            "p = torch.zeros(3, requires_grad=True)\n"
            "for make in (optim.Adam, optim.GradientDescent):\n"
            "    o = make([p], lr=0.1); (p - 1).pow(2).sum().backward(); o.step()\n"
            "o = optim.LBFGS([p], line_search_fn='strong_wolfe')\n"
            "def closure():\n"
            "    o.zero_grad(); v = (p - 1).pow(2).sum(); v.backward(); return v\n"
            "o.step(closure)\n"
            "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
