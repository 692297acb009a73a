"""Full-size checks (as `proofs-check all` runs them). Deselected in CI: -m "not slow"."""
import pytest

from proofs_check import verify


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["pretrain-optimum", "zfb-fixed-point", "pretrain-optimum-noisy",
                                      "mixture-optimum"])
def test_training_level_at_default_size(claim_id):
    (result,) = verify(claim_id, level="training")
    assert result.verdict == "holds", result.detail


@pytest.mark.slow
def test_pretrain_optimum_training_on_the_papers_covariance():
    (result,) = verify("pretrain-optimum", level="training", spectrum="paper", d=10, n=40)
    assert result.verdict == "holds", result.detail
