"""Declarative input validation: one-line errors that name the parameter and the constraint."""
from __future__ import annotations

import sys

import numpy as np


class ValidationError(ValueError):
    """Bad input. The message names the parameter and the constraint it violates."""


def _as_numpy(value, name: str):
    # a tensor exists only where torch is loaded: never import it here (numpy callers, e.g. a driver's premises)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"parameter '{name}': could not read a numeric array ({error})") from None


def _as_number(value) -> float:
    """float(value), NaN for what is not a number (None, 'x'): the caller's check then names the parameter."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def positive_int(name: str, value) -> int:
    """An integer >= 1 (dimensions, context lengths, counts)."""
    number = _as_number(value)
    if isinstance(value, bool) or not number.is_integer():
        raise ValidationError(f"parameter '{name}': must be an integer >= 1, got {value!r}")
    if number < 1:
        raise ValidationError(f"parameter '{name}': must be >= 1, got {value!r}")
    return value if isinstance(value, int) else int(number)   # an int stays exact beyond 2**53


def nonnegative(name: str, value) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValidationError(f"parameter '{name}': must be finite and >= 0, got {value!r}")
    return value


def positive(name: str, value) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValidationError(f"parameter '{name}': must be finite and > 0, got {value!r}")
    return value


def finite_array(name: str, value) -> np.ndarray:
    array = _as_numpy(value, name)
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"parameter '{name}': contains NaN or inf")
    return array


def square_matrix(name: str, value, size: int | None = None) -> np.ndarray:
    """Finite array of shape (..., k, k), optionally with k == size."""
    array = finite_array(name, value)
    if array.ndim < 2 or array.shape[-1] != array.shape[-2]:
        raise ValidationError(f"parameter '{name}': must be a square matrix (..., k, k), got shape {array.shape}")
    if size is not None and array.shape[-1] != size:
        raise ValidationError(f"parameter '{name}': must be {size}x{size}, got shape {array.shape}")
    return array


def covariance(name: str, value, size: int | None = None, definite: bool = False) -> np.ndarray:
    """Symmetric positive semi-definite (or definite) matrix, batched allowed.

    Tolerances scale with the matrix norm so float32 inputs are judged fairly.
    """
    array = square_matrix(name, value, size)
    scale = max(1.0, float(np.max(np.abs(array))))
    single = str(getattr(value, "dtype", "")).endswith("float32")   # numpy or torch float32 input
    eps = np.finfo(np.float32).eps if single else 1e-10
    asymmetry = float(np.max(np.abs(array - np.swapaxes(array, -1, -2))))
    if asymmetry > 100 * eps * scale:
        raise ValidationError(f"parameter '{name}': covariance must be symmetric (max |C - C^T| = {asymmetry:.3g})")
    smallest = float(np.min(np.linalg.eigvalsh(array)))
    if definite and smallest <= 100 * eps * scale:
        raise ValidationError(f"parameter '{name}': covariance must be positive definite "
                              f"(smallest eigenvalue {smallest:.3g})")
    if smallest < -1e3 * eps * scale * array.shape[-1]:
        raise ValidationError(f"parameter '{name}': covariance must be positive semi-definite "
                              f"(smallest eigenvalue {smallest:.3g})")
    return array


def spectrum(name: str, value, size: int | None = None) -> np.ndarray:
    """A vector of nonnegative eigenvalues."""
    array = finite_array(name, value)
    if array.ndim != 1:
        raise ValidationError(f"parameter '{name}': spectrum must be a 1-d vector, got shape {array.shape}")
    if size is not None and array.shape[0] != size:
        raise ValidationError(f"parameter '{name}': spectrum must have length {size}, got {array.shape[0]}")
    if np.any(array < 0):
        raise ValidationError(f"parameter '{name}': spectrum must be >= 0 (covariance PSD), got min {array.min():.3g}")
    return array


def probabilities(name: str, value) -> np.ndarray:
    array = finite_array(name, value)
    if array.ndim != 1 or np.any(array < 0) or abs(array.sum() - 1) > 1e-8:
        raise ValidationError(f"parameter '{name}': must be a probability vector (>= 0, summing to 1)")
    return array


def one_of(name: str, value, allowed) -> str:
    if value not in allowed:
        raise ValidationError(f"parameter '{name}': must be one of {sorted(allowed)}, got {value!r}")
    return value


def unit_interval(name: str, value) -> float:
    """A rate strictly between 0 and 1 (the geometric CoT rate η)."""
    value = float(value)
    if not 0 < value < 1:
        raise ValidationError(f"parameter '{name}': must be in (0, 1), got {value!r}")
    return value


def nonnegative_int(name: str, value) -> int:
    """An integer >= 0 (a number of steps, where 0 means 'the start')."""
    number = _as_number(value)
    if isinstance(value, bool) or not np.isfinite(number) or not number.is_integer() or number < 0:
        raise ValidationError(f"parameter '{name}': must be an integer >= 0, got {value!r}")
    return value if isinstance(value, int) else int(number)   # an int stays exact beyond 2**53


def fraction(name: str, value) -> float:
    """A share in [0, 1] (e.g. of coordinates)."""
    value = float(value)
    if not 0 <= value <= 1:
        raise ValidationError(f"parameter '{name}': must be in [0, 1], got {value!r}")
    return value


def batch_shapes(sample_cov, vector, v_block, vector_name: str = "w_star") -> int:
    """The prompts' dimension d, after checking that S is (..., B, d, d), the vector (..., B, d) and Ṽ (..., d, d)
    (shapes only: cheap enough for every step of a training loop)."""
    if sample_cov.dim() < 3 or sample_cov.shape[-1] != sample_cov.shape[-2]:
        raise ValidationError(f"parameter 'sample_cov': must be (..., B, d, d), got shape {tuple(sample_cov.shape)}")
    d = sample_cov.shape[-1]
    if tuple(vector.shape[-2:]) != (sample_cov.shape[-3], d):
        raise ValidationError(f"parameter '{vector_name}': must be (..., B, d) = (..., {sample_cov.shape[-3]}, {d}) "
                              f"as 'sample_cov' {tuple(sample_cov.shape)}, got shape {tuple(vector.shape)}")
    if tuple(v_block.shape[-2:]) != (d, d):
        raise ValidationError(f"parameter 'v_block': must be (..., {d}, {d}), got shape {tuple(v_block.shape)}")
    same_dtype("sample_cov", sample_cov, **{vector_name: vector, "v_block": v_block})
    return d


def finite_tensor(name: str, value) -> None:
    """A torch tensor (or anything :func:`finite_array` reads) without NaN or inf; a tensor stays on its device.
    For one-off inputs (a pseudo-inverse, a Hessian's point): inside a training loop the check would synchronise
    every step, and a diverged run's NaN is a result there, not bad input."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if not bool(torch.isfinite(value).all()):
            raise ValidationError(f"parameter '{name}': contains NaN or inf")
        return
    finite_array(name, value)


def prompt_shapes(x, y) -> tuple:
    """(n, d) of prompts x (..., n, d) with labels y (..., n) of the same dtype (shapes only: per-step cheap)."""
    if x.dim() < 2:
        raise ValidationError(f"parameter 'x': must be (..., n, d), got shape {tuple(x.shape)}")
    n, d = x.shape[-2:]
    trailing_shape("y", y, (n,), "(..., n) with x's n")
    same_dtype("x", x, y=y)
    return n, d


def trailing_shape(name: str, tensor, expected: tuple, meaning: str) -> None:
    """``tensor.shape`` ends with ``expected`` (shapes only: cheap enough for every step of a training loop)."""
    if tensor.dim() < len(expected) or tuple(tensor.shape[-len(expected):]) != tuple(expected):
        raise ValidationError(f"parameter '{name}': must be {meaning} = (..., {', '.join(map(str, expected))}), "
                              f"got shape {tuple(tensor.shape)}")


def same_dtype(reference_name: str, reference, **tensors) -> None:
    """Every tensor has the reference's dtype (torch's matmul would only say 'Float != Double' deep inside)."""
    for name, tensor in tensors.items():
        if tensor.dtype != reference.dtype:
            raise ValidationError(f"parameter '{name}': dtype {tensor.dtype} differs from '{reference_name}''s "
                                  f"{reference.dtype} (convert one with .to())")


def writable_directory(name: str, path):
    """``path`` created if needed and proved writable (a temporary file), before any computation starts."""
    import tempfile
    from pathlib import Path
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as error:
        raise ValidationError(f"parameter '{name}': {str(path)!r} is not a writable directory "
                              f"({error.strerror or error})") from None
    return out
