"""The GPT-2 model of Figure 3 (numerics.gpt2), its protocols (numerics.experiments.gpt2) and the figure."""
import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from numerics import gpt2
from numerics.experiments import gpt2 as experiment
from numerics.validation import ValidationError

CONFIG = gpt2.GPT2Config(d=5, n_layer=2, n_head=4, n_embd=32, n_positions=40)
# seconds-sized protocol for the tests (the claims' quick profile is experiment.TINY)
MICRO = replace(experiment.TINY, pretrain_steps=30, sft_steps=3, os_steps=3, test_prompts=16, seeds=2, batch=8,
                Bs=(2, 8), ns=(3, 6), ks=(1, 2), base_B=8, base_n=6)


def _model(seed=0, config=CONFIG, scale=0.2):
    """A model with every weight random (LayerNorm gains and biases too), so parity cannot pass by accident."""
    torch.manual_seed(seed)
    model = gpt2.GPT2WeightPredictor(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn_like(parameter))
    return model


def test_hidden_states_match_transformers_gpt2model():
    transformers = pytest.importorskip("transformers", reason="transformers is not installed (the test extra "
                                                              "installs it; CI runs this test)")
    model = _model()
    reference = transformers.GPT2Model(transformers.GPT2Config(**gpt2.transformers_config_kwargs(CONFIG)))
    reference.load_state_dict(gpt2.transformers_state_dict(model), strict=True)
    reference.eval()
    tokens = torch.randn(3, 30, CONFIG.d)
    with torch.no_grad():
        ours = model.hidden_states(tokens)
        theirs = reference(inputs_embeds=model.read_in(tokens)).last_hidden_state
    assert ours.shape == theirs.shape == (3, 30, CONFIG.n_embd)
    assert torch.max(torch.abs(ours - theirs)) < 1e-5


def test_paper_scale_has_about_9_5_million_parameters():
    count = gpt2.parameter_count(gpt2.GPT2WeightPredictor(experiment.PAPER.model_config()))
    assert 9.3e6 < count < 9.7e6


def test_ensemble_matches_each_model_alone():
    models = [_model(seed) for seed in range(3)]
    ensemble = gpt2.Ensemble(CONFIG, gpt2.stack_parameters(models))
    tokens = torch.randn(3, 4, 12, CONFIG.d)
    with torch.no_grad():
        together = ensemble(tokens)
        alone = torch.stack([m(tokens[r]) for r, m in enumerate(models)])
    assert torch.max(torch.abs(together - alone)) < 1e-5
    assert torch.equal(gpt2.unstack_parameters(ensemble.params, 1)["ln_f.bias"], models[1].ln_f.bias.detach())


def test_prompt_layout_is_x_y_pairs_then_w0_and_the_constant_token():
    x, y = torch.randn(2, 3, 4), torch.randn(2, 3)
    tokens = gpt2.prompt_tokens(x, y)
    assert tokens.shape == (2, 2 * 3 + 2, 4)
    assert torch.equal(tokens[:, 0:6:2], x)
    assert torch.equal(tokens[:, 1:6:2, 0], y) and not tokens[:, 1:6:2, 1:].any()
    assert not tokens[:, 6].any() and torch.equal(tokens[:, 7], torch.ones(2, 4))


def test_teacher_forcing_on_the_models_own_chain_reproduces_the_rollout():
    model = _model(1)
    x, y = torch.randn(4, 5, CONFIG.d), torch.randn(4, 5)
    with torch.no_grad():
        chain = gpt2.rollout(model, x, y, 4)                     # ŵ_1..ŵ_4
        forced = gpt2.teacher_forced(model, x, y, chain[:, :3])  # predictions given ŵ_1..ŵ_3
    assert forced.shape == (4, 4, CONFIG.d)
    assert torch.max(torch.abs(forced - chain)) < 1e-5


def test_attention_is_causal():
    model = _model(2)
    tokens = torch.randn(2, 10, CONFIG.d)
    changed = tokens.clone()
    changed[:, 7:] += 1.0
    with torch.no_grad():
        assert torch.allclose(model(tokens)[:, :7], model(changed)[:, :7], atol=1e-6)
        assert not torch.allclose(model(tokens)[:, 7:], model(changed)[:, 7:], atol=1e-3)


@pytest.mark.parametrize("kind", ["model", "ensemble"])
def test_a_sequence_fed_in_pieces_through_the_cache_equals_the_whole_sequence(kind):
    """Pieces of 7, 2 and 3 tokens with one KVCache: positions continue and the new tokens' causal mask is
    aligned after the cached ones (a piece of several tokens tells a top-left mask or restarted positions apart)."""
    models = [_model(seed) for seed in range(2)]
    model = models[0] if kind == "model" else gpt2.Ensemble(CONFIG, gpt2.stack_parameters(models))
    tokens = torch.randn(*(() if kind == "model" else (2,)), 3, 12, CONFIG.d)
    cache = gpt2.KVCache()
    with torch.no_grad():
        whole = model(tokens)
        pieces = []
        for start, stop in ((0, 7), (7, 9), (9, 12)):
            pieces.append(model(tokens[..., start:stop, :], cache))
            assert cache.length == stop
    assert torch.max(torch.abs(torch.cat(pieces, dim=-2) - whole)) < 1e-5
    with pytest.raises(ValidationError, match="parameter 'n_positions'"):
        model(torch.randn(*tokens.shape[:-2], CONFIG.n_positions - 11, CONFIG.d), cache)


@pytest.mark.parametrize("kind", ["model", "ensemble"])
def test_rollout_with_cached_keys_equals_recomputing_the_sequence_values_and_gradients(kind):
    models = [_model(seed) for seed in range(2)]
    if kind == "model":
        model = models[0]
        parameters = list(model.parameters())
    else:
        model = gpt2.Ensemble(CONFIG, gpt2.stack_parameters(models))
        parameters = list(model.params.values())
    lead = () if kind == "model" else (2,)
    x, y = torch.randn(*lead, 4, 5, CONFIG.d), torch.randn(*lead, 4, 5)
    w = torch.randn(*lead, 4, CONFIG.d)
    found = {}
    for reuse in (True, False):
        chain = gpt2.rollout(model, x, y, 4, reuse_keys=reuse)
        loss = (0.5 * ((chain[..., -1, :] - w) ** 2).sum(-1)).mean()      # L_OS through the whole rollout
        found[reuse] = (chain.detach(), torch.autograd.grad(loss, parameters))
    (cached, cached_grads), (recomputed, recomputed_grads) = found[True], found[False]
    assert torch.equal(cached[..., 0, :], recomputed[..., 0, :])           # step 1 is the same call
    assert torch.max(torch.abs(cached - recomputed)) < 1e-5
    for mine, reference in zip(cached_grads, recomputed_grads):
        assert torch.max(torch.abs(mine - reference)) <= 1e-5 * (1 + torch.max(torch.abs(reference)))


def test_cot_path_and_curriculum():
    w = torch.randn(3, 5)
    path = experiment.cot_path(w, 3, eta=0.5)
    assert torch.allclose(path[:, 2], (1 - 0.5 ** 3) * w)
    assert experiment.curriculum(0, 100, 20, 40, 0.5) == (5, 10)
    assert experiment.curriculum(50, 100, 20, 40, 0.5) == (20, 40) == experiment.curriculum(99, 100, 20, 40, 0.5)


def test_bad_input_is_a_one_line_error_naming_the_parameter():
    with pytest.raises(ValidationError, match="parameter 'n_embd'"):
        gpt2.GPT2Config(n_embd=30, n_head=8)
    with pytest.raises(ValidationError, match="parameter 'n_positions'"):
        _model()(torch.randn(1, 41, CONFIG.d))
    # stop 30: each of these was a RuntimeError from torch.stack, cat or a matmul deep in the model
    x, y = torch.randn(2, 5, CONFIG.d), torch.randn(2, 5)
    with pytest.raises(ValidationError, match="parameter 'y': must be \\(..., n\\) with x's n"):
        gpt2.prompt_tokens(x, y[:, :3])
    with pytest.raises(ValidationError, match=f"parameter 'tokens': .* the model's d = {CONFIG.d}"):
        _model()(torch.randn(1, 12, CONFIG.d + 1))
    with pytest.raises(ValidationError, match="parameter 'k': must be >= 1"):
        gpt2.rollout(_model(), x, y, 0)
    with pytest.raises(ValidationError, match="parameter 'path'"):
        gpt2.teacher_forced(_model(), x, y, torch.randn(2, 3, CONFIG.d + 1))
    with pytest.raises(ValidationError, match="parameter 'device'"):
        experiment.checked_device("tpu")
    with pytest.raises(ValidationError, match="parameter 'seeds'"):
        replace(MICRO, seeds=1)
    with pytest.raises(ValidationError, match="parameter 'method'"):
        experiment.post_train(MICRO, "RL", [experiment.Arm(2, 3, 1)], 0, pretrained=_model())


def test_seeds_trained_together_equal_seeds_trained_alone():
    model = gpt2.GPT2WeightPredictor(MICRO.model_config())
    pool = experiment.post_training_pool(MICRO, 0, 8, 6)
    tests = experiment.test_set(MICRO, 0, 6)
    arm_a, arm_b = experiment.Arm(2, 6, 2), experiment.Arm(8, 6, 2)
    together = experiment._train_group(MICRO, "OS", model, [(arm_a, 0, 0), (arm_b, 1, 1)], pool, tests, 3, 2, 0,
                                       "cpu")
    alone = experiment._train_group(MICRO, "OS", model, [(arm_b, 1, 1)], pool, tests, 3, 2, 0, "cpu")
    assert abs(float(together[1]) - float(alone[0])) < 1e-5


def test_a_panel_on_more_seeds_is_the_panel_on_fewer_followed_by_the_new_seeds_bitwise():
    """What lets a re-check on twice the seeds train only the new ones (proofs_check.claims.gpt2._panel)."""
    protocol = replace(MICRO, seeds=3)
    model = _model(config=protocol.model_config(), scale=0.05)
    for method, sweep in (("SFT", "B"), ("OS", "n")):
        whole = experiment.panel(protocol, method, sweep, 0, pretrained=model)
        first = experiment.panel(protocol, method, sweep, 0, pretrained=model, seeds=range(0, 1))
        rest = experiment.panel(protocol, method, sweep, 0, pretrained=model, seeds=range(1, 3))
        for part in ("loss", "start"):
            assert whole[part].shape[0] == 3
            assert np.array_equal(np.concatenate([first[part], rest[part]]), whole[part]), (method, sweep, part)
    with pytest.raises(ValidationError, match="parameter 'seeds'"):
        experiment.panel(protocol, "SFT", "B", 0, pretrained=model, seeds=range(2, 2))


def test_the_claims_train_each_seed_of_a_panel_once(monkeypatch):
    from proofs_check.claims import gpt2 as claims
    trained = []

    def panel(protocol, method, sweep, seed, seeds):
        trained.append(seeds)
        rows = np.arange(seeds.start, seeds.stop, dtype=float)[:, None]
        return {"values": [1, 2], "loss": rows + np.zeros(2), "start": rows + np.ones(2)}
    monkeypatch.setattr(claims, "_PANELS", {})
    monkeypatch.setattr(claims.experiment, "panel", panel)
    four, eight, two = (claims._panel(replace(MICRO, seeds=r), "SFT", "B", {"seed": 0}) for r in (4, 8, 2))
    assert trained == [range(0, 4), range(4, 8)]
    assert np.array_equal(eight["loss"][:, 0], np.arange(8)) and np.array_equal(four["loss"], eight["loss"][:4])
    assert np.array_equal(two["start"], eight["start"][:2])
    claims._panel(replace(MICRO, seeds=4), "SFT", "B", {"seed": 1})      # another stream seed: trained from the start
    assert trained[-1] == range(0, 4)
    fresh = claims._panel(replace(MICRO, seeds=4), "SFT", "B", {"seed": 0, "first_run": 8})   # a replication
    assert trained[-1] == range(8, 12) and np.array_equal(fresh["loss"][:, 0], np.arange(8, 12))


def test_pretrained_checkpoint_is_computed_once_and_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CACHE", str(tmp_path))
    first, record = experiment.pretrained_model(MICRO, 0)
    assert len(record["trace"]) >= 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("pretrained again instead of reading the cache")
    monkeypatch.setattr(experiment, "pretrain", must_not_run)
    second, _ = experiment.pretrained_model(MICRO, 0)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(AssertionError, match="pretrained again"):
        experiment.pretrained_model(replace(MICRO, pretrain_lr=1e-3), 0)   # another config: another key


def test_lsa_prediction_is_finite_and_falls_with_n():
    arms = [experiment.Arm(8, n, 3) for n in (3, 12)]
    theory = experiment.lsa_sft_prediction(MICRO, arms, 0, draws=50)
    assert np.all(np.isfinite(theory)) and theory[1] < theory[0]


def test_figure3_writes_six_panels_with_every_seed(tmp_path, monkeypatch):
    from figures.gpt2_figures import figure3
    monkeypatch.setenv("PROOFS_CHECK_CACHE", str(tmp_path / "cache"))
    paths = figure3(out_dir=tmp_path, protocol=MICRO)
    assert sorted(p.suffix for p in paths) == [".csv", ".json", ".pdf", ".png"]
    rows = list(csv.DictReader(open(tmp_path / "fig3.csv")))
    panels = {row["panel"] for row in rows}
    assert panels == {f"{m} vs {s}" for m in ("SFT", "OS") for s in ("B", "n", "k")}
    measured = [row for row in rows if row["series"] in ("SFT", "OS")]
    assert all(int(row["seeds"]) == MICRO.seeds for row in measured)
    assert all(float(row["ci_low"]) <= float(row["y"]) <= float(row["ci_high"]) for row in measured)
    record = json.loads((tmp_path / "fig3.json").read_text())
    assert record["config"]["device"] == "cpu" and len(record["config"]["per_seed_loss"]) == 6


@pytest.mark.slow
def test_small_figure3_on_the_cpu(tmp_path, monkeypatch):
    from figures import make_figure
    monkeypatch.setenv("PROOFS_CHECK_CACHE", str(tmp_path / "cache"))
    paths = make_figure("fig3", small=True, out_dir=tmp_path)
    assert (tmp_path / "fig3_small.png").exists() and len(paths) == 4
    rows = list(csv.DictReader(open(tmp_path / "fig3_small.csv")))
    assert len({row["panel"] for row in rows}) == 6
