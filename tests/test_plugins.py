"""User claims as plug-ins: a separate package's entry point is listed, verified and fuzzed through
the CLI; broken plug-ins give one-line errors (exit 2)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugin_example"


def _cli(args, path, env_extra=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]),
           "HYPOTHESIS_PROFILE": "ci", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "proofs_check", *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(PLUGIN)], check=True, timeout=300)
    return target


def test_plugin_claim_is_listed_verified_and_fuzzed(installed, monkeypatch, capsys):
    listed = _cli(["list"], installed)                  # a fresh process finds the entry point (no torch: ~0.5 s)
    assert listed.returncode == 0 and "gamma-trace  [extension;" in listed.stdout
    # verify and fuzz through the CLI in this process, its registry reloaded with the plug-in's folder on the path
    # (each would otherwise import torch in a process of its own)
    from proofs_check import registry
    from proofs_check.cli import main
    registry.all_claims()
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    monkeypatch.setattr(registry, "_ORIGIN", dict(registry._ORIGIN))
    monkeypatch.setitem(registry._state, "loaded", False)
    assert main(["verify", "gamma-trace", "--d", "7", "--json", "--no-cache"]) == 0
    verified = capsys.readouterr().out
    assert '"verdict": "holds"' in verified and '"unchecked"' in verified
    assert main(["fuzz", "gamma-trace", "--examples", "5"]) == 0
    assert "no counterexample" in capsys.readouterr().out


def _fake_distribution(root: Path, name: str, entry: str, module_source: str | None = None):
    """A minimal installed distribution (dist-info with entry_points.txt), as pip would leave it."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[proofs_check.claims]\n{name} = {entry}\n")
    if module_source is not None:
        (root / f"{entry.split(':')[0]}.py").write_text(module_source)


DUPLICATE = """
from proofs_check import Claim, Level, Measurement, rules
CLAIMS = [Claim(id="wishart-moment", source="x", statement="x", kind="paper",
                levels={"numeric": Level(lambda q: Measurement.single("x", gap=0.0), rules.AtMost("gap", 1))})]
"""
UNKNOWN_KIND = DUPLICATE.replace('id="wishart-moment"', 'id="mine"').replace('kind="paper"', 'kind="lemma"')


@pytest.mark.parametrize("name, entry, source, fragment", [
    ("dup_plugin", "dup_plugin", DUPLICATE, "duplicate id"),
    ("missing_plugin", "no_such_module_anywhere", None, "cannot be loaded"),
    ("kind_plugin", "kind_plugin", UNKNOWN_KIND, "unknown kind"),
    ("type_plugin", "type_plugin:VALUE", "VALUE = 3\n", "must be a Claim"),
])
def test_broken_plugins_are_one_line_errors(tmp_path, monkeypatch, capsys, name, entry, source, fragment):
    from proofs_check import registry
    from proofs_check.cli import main
    registry.all_claims()      # built-ins first, as in a fresh process
    _fake_distribution(tmp_path, name, entry, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    monkeypatch.setattr(registry, "_ORIGIN", dict(registry._ORIGIN))
    monkeypatch.setitem(registry._state, "loaded", False)
    assert main(["list"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]
