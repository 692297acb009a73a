"""The architecture's arrows: figures never import claims; no hand-picked seed offsets anywhere."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_figures_and_experiments_never_import_the_verification_layer():
    # every import statement of every module, those inside functions included (a subprocess that imports one
    # module sees only that module's import-time closure)
    for folder in ("figures", "numerics", "theory"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not any(name.startswith("proofs_check") for name in _imports(path)), path


def test_no_hand_picked_seed_offsets():
    pattern = re.compile(r"seed\W{0,3}\s*[+]\s*\d")
    offenders = [f"{p}:{i}" for folder in ("theory", "numerics", "proofs_check", "figures", "benchmarks")
                 for p in (ROOT / folder).rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders


def test_the_toolkit_never_imports_scipy():
    """scipy is a test-only dependency (setup.cfg): no module of the toolkit imports it, at any depth
    (tests/test_rules.py runs a training check with scipy blocked)."""
    for folder in ("theory", "numerics", "proofs_check", "figures"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not any(name.split(".")[0] == "scipy" for name in _imports(path)), path
