"""Numbers from the theory and from simulation: sampling, compiled closed forms,
the LSA model in torch, Monte Carlo estimators and batched training."""
from numerics.closed_forms import (gamma_matrix, mixture_pretrain_optimum, noisy_pretrain_optimum,
                                   post_test_error, pretrain_error, pretrain_optimum, zfb_predictor, zfb_risk)
from numerics.compile import CompiledExpression, compile_expression, evalf_reference
from numerics.lsa import cot_rollout, embed_prompt, lsa_layer, reduced_rollout, sparse_parameters
from numerics.montecarlo import Estimate, estimate_mean
from numerics.sampling import (Mixture, Prompts, covariance_with_condition, paper_covariance, paper_shift,
                               sample_prompts)
from numerics.training import PretrainConfig, PretrainResult, pretrain, relative_error
from numerics.validation import ValidationError
from numerics.asymptotics import limit_error
from numerics.outcome import hessian_top_eigenvalue, os_gradient_printed, os_loss, reinforce_gradient, train_os
from numerics.sft import (first_order_optimum, population_optimum, sft_optimum, task_moments, teacher_forced_loss,
                          train_sft)
from numerics.sft_setups import BlockSetup

__all__ = [
    "BlockSetup", "first_order_optimum", "hessian_top_eigenvalue", "limit_error", "os_gradient_printed", "os_loss",
    "population_optimum", "reinforce_gradient", "sft_optimum", "task_moments", "teacher_forced_loss", "train_os",
    "train_sft",
    "CompiledExpression", "Estimate", "Mixture", "PretrainConfig", "PretrainResult", "Prompts", "ValidationError",
    "compile_expression", "cot_rollout", "covariance_with_condition", "embed_prompt", "estimate_mean",
    "evalf_reference", "gamma_matrix", "lsa_layer", "mixture_pretrain_optimum", "noisy_pretrain_optimum",
    "paper_covariance", "paper_shift", "post_test_error", "pretrain", "pretrain_error", "pretrain_optimum",
    "reduced_rollout", "relative_error", "sample_prompts", "sparse_parameters", "zfb_predictor", "zfb_risk",
]
