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


@pytest.mark.parametrize("count", [1, min(2, os.cpu_count() or 1)])
def test_a_process_that_imports_torch_after_configure_gets_the_count(count):
    """configure() does not import torch (a sweep's driver never computes); torch loaded afterwards starts
    with the configured count (1 is not torch's default on a machine with more cores). Set this way torch caps
    the count at the cores (measured: 3 gives 2 on 2 cores), hence no count above them here."""
    import subprocess
    import sys
    script = (f"import sys; from numerics.threads import configure; configure({count}); "
              "assert 'torch' not in sys.modules; import torch; print(torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) == count


def _fresh_process(script: str, **variables) -> str:
    """``script`` in a new interpreter whose environment has none of the thread variables but ``variables``."""
    import subprocess
    import sys
    from numerics.thread_environment import ENVIRONMENT_VARIABLE, THREAD_VARIABLES
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES + (ENVIRONMENT_VARIABLE,)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**env, **variables})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


POOL_AND_FORKED_CHILD = """
import os
import proofs_check, numpy as np
from threadpoolctl import threadpool_info
(blas,) = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
read, write = os.pipe()
if os.fork() == 0:
    np.ones((64, 64)) @ np.ones((64, 64))               # a BLAS call in the child starts its pool
    os.write(write, str(len(os.listdir("/proc/self/task"))).encode()); os._exit(0)
os.wait()
print(blas, os.read(read, 16).decode())
"""


def test_importing_the_toolkit_sizes_the_blas_pool_before_numpy_loads_it():
    """Found at stop 37: numpy's OpenBLAS, loaded before configure() ran, kept a second pool thread that it started
    again in every forked child, where it spun (the mutation gate's children: 25.6 s of CPU in 19.2 s of wall time).
    Importing the toolkit first now sets the thread variables, so numpy loads a one-thread pool and a forked child
    runs one thread; a variable the user set is kept."""
    assert _fresh_process(POOL_AND_FORKED_CHILD) == "1 1"
    assert _fresh_process(POOL_AND_FORKED_CHILD, PROOFS_CHECK_THREADS="2").split()[0] == "2"
    assert _fresh_process(POOL_AND_FORKED_CHILD, OPENBLAS_NUM_THREADS="2").split()[0] == "2"


def test_configure_grows_a_one_thread_pool_where_a_workload_asks_for_more():
    """A paper-scale figure asks for every core after the toolkit's import sized the pools at one thread."""
    script = ("import proofs_check; from numerics.threads import configure; "
              "from threadpoolctl import threadpool_info; configure(2); "
              "print([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'][0])")
    assert _fresh_process(script) == "2"
