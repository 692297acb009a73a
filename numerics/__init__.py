"""Numbers from the theory and from simulation: sampling, compiled closed forms, the LSA model in
torch, Monte Carlo estimators, batched training, and the experiments layer (``numerics.experiments``).

The public names below are loaded on first use (PEP 562), so importing a light submodule such as
``numerics.streams`` or ``numerics.validation`` does not import torch or compile the theory.
"""
from importlib import import_module

from numerics.thread_environment import set_default_thread_environment

# before any submodule loads numpy or torch: their thread pools are sized once, at load (numerics/thread_environment)
set_default_thread_environment()

_EXPORTS = {
    "numerics.closed_forms": ("gamma_matrix", "mixture_pretrain_optimum", "noisy_pretrain_optimum",
                              "post_test_error", "pretrain_error", "pretrain_optimum", "zfb_predictor", "zfb_risk"),
    "numerics.compile": ("CompiledExpression", "compile_expression", "evalf_reference"),
    "numerics.lsa": ("cot_rollout", "embed_prompt", "lsa_layer", "reduced_rollout", "sparse_parameters"),
    "numerics.montecarlo": ("Estimate", "estimate_mean"),
    "numerics.sampling": ("Mixture", "PromptMoments", "PromptSource", "Prompts", "covariance_with_condition",
                          "paper_covariance", "paper_shift", "sample_prompts"),
    "numerics.training": ("PretrainConfig", "PretrainResult", "pretrain", "relative_error"),
    "numerics.validation": ("ValidationError",),
    "numerics.asymptotics": ("limit_error",),
    "numerics.outcome": ("hessian_top_eigenvalue", "os_gradient_printed", "os_loss", "os_loss_and_gradient",
                          "reinforce_gradient", "train_os", "train_os_k1_by_moments"),
    "numerics.sft": ("first_order_optimum", "population_optimum", "sft_optimum", "task_moments",
                     "teacher_forced_loss", "train_sft"),
    "numerics.sft_setups": ("BlockSetup",),
    "numerics.streams": ("numpy_rng", "stream_seed", "torch_generator"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'numerics' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
