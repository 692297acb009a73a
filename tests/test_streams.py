"""Named random streams: reproducible, independent by name, validated seeds."""
import numpy as np
import pytest
import torch

from numerics.streams import numpy_rng, stream_seed, torch_generator
from numerics.validation import ValidationError


def test_same_name_same_draws_and_different_names_differ():
    assert np.array_equal(numpy_rng(3, "a", "b").standard_normal(5), numpy_rng(3, "a", "b").standard_normal(5))
    assert not np.array_equal(numpy_rng(3, "a").standard_normal(5), numpy_rng(3, "b").standard_normal(5))
    assert not np.array_equal(numpy_rng(3, "a").standard_normal(5), numpy_rng(4, "a").standard_normal(5))
    first = torch.randn(4, generator=torch_generator(1, "x"))
    assert torch.equal(first, torch.randn(4, generator=torch_generator(1, "x")))


def test_streams_do_not_collide_like_offsets_did():
    # seed 0 with name "b" must not equal seed 1 with name "a" (offset schemes make seed+1 == other+0)
    assert stream_seed(0, "b") != stream_seed(1, "a") and stream_seed(0, "a", "b") != stream_seed(0, "ab")


@pytest.mark.parametrize("seed", [-1, 2 ** 63, 2.5, "3", True])
def test_bad_seeds_are_one_line_errors(seed):
    with pytest.raises(ValidationError, match="parameter 'seed'"):
        numpy_rng(seed, "x")
