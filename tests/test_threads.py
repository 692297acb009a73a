"""The thread policy: one thread by default, settable by argument or environment, validated."""
import os

import pytest
import torch

from numerics.threads import configure, requested_threads
from numerics.validation import ValidationError
from proofs_check.cli import main


def test_default_is_one_and_the_environment_or_argument_overrides(monkeypatch):
    monkeypatch.delenv("PROOFS_CHECK_THREADS", raising=False)
    assert requested_threads() == 1
    assert requested_threads(workload="large") == (os.cpu_count() or 1)
    monkeypatch.setenv("PROOFS_CHECK_THREADS", "2")
    assert requested_threads() == 2 and requested_threads(3) == 3
    try:
        assert configure(2) == 2 and torch.get_num_threads() == 2
    finally:
        configure(1)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("value", ["zero", "0", "-2"])
def test_bad_thread_counts_are_one_line_errors(monkeypatch, value):
    monkeypatch.setenv("PROOFS_CHECK_THREADS", value)
    with pytest.raises(ValidationError, match="PROOFS_CHECK_THREADS|parameter 'threads'"):
        requested_threads()


def test_cli_threads_option_is_validated(capsys):
    assert main(["--threads", "0", "verify", "wishart-moment", "--level", "numeric"]) == 2
    assert "parameter 'threads'" in capsys.readouterr().err
