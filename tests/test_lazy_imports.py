"""Light commands stay light: `list`, `--help`, `--version` import neither torch nor hypothesis
(the claim modules reach heavy modules through numerics.lazy, on first use)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from numerics.lazy import lazy_module

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "hypothesis", "sympy")


def _imported(*arguments: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "proofs_check", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if match:
            names.add(match.group(1))
    assert "proofs_check.cli" in names   # the listing really is -X importtime's
    return names


@pytest.mark.parametrize("arguments", [("list",), ("list", "--json"), ("--help",), ("--version",),
                                       ("verify", "--help")])
def test_light_commands_import_no_torch(arguments):
    names = _imported(*arguments)
    heavy = sorted(name for name in names if name.split(".")[0] in HEAVY)
    assert not heavy, f"{' '.join(arguments)} imported {heavy[:5]}"


def test_lazy_module_imports_on_first_attribute_access():
    name = "numerics._lazy_probe_module_that_does_not_exist"
    probe = lazy_module(name)
    assert name not in sys.modules and "not loaded" in repr(probe)
    with pytest.raises(ModuleNotFoundError):
        probe.anything
    streams = lazy_module("numerics.streams")
    import numerics.streams as real
    assert streams.stream_seed is real.stream_seed and "stream_seed" in dir(streams)
