"""Guards of the house's structure: protocols/ never imports circuit/ (the dependency points one
way), every sub-package is installed under the one pfcda namespace, the format document is
generated from the schema, and listing protocols imports no torch."""
import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("circuit", "dopamine", "pfc", "protocols")


def _imports(path: str, package: str):
    """(line, absolute module) of every import in a file of pfcda.<package>."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    rel = os.path.relpath(path, ROOT).replace(os.sep, "/")[:-3].split("/")
    here = ["pfcda"] + rel[:-1] if not rel[-1] == "__init__" else ["pfcda"] + rel[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield node.lineno, mod
            for a in node.names:
                yield node.lineno, f"{mod}.{a.name}"


def _files(folder: str):
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for f in files:
            if f.endswith(".py"):
                yield os.path.join(dirpath, f)


def test_protocols_never_import_circuit():
    bad = []
    for path in _files("protocols"):
        for line, mod in _imports(path, "protocols"):
            if mod == "circuit" or mod.startswith(("circuit.", "pfcda.circuit")):
                bad.append(f"{os.path.relpath(path, ROOT)}:{line} imports {mod}")
    assert not bad, "protocols/ must not import circuit/:\n" + "\n".join(bad)


def test_the_ground_packages_import_no_protocol_or_circuit():
    bad = []
    for folder in ("pfc", "dopamine"):
        for path in _files(folder):
            for line, mod in _imports(path, folder):
                if mod.startswith(("pfcda.circuit", "pfcda.protocols", "circuit", "protocols")):
                    bad.append(f"{os.path.relpath(path, ROOT)}:{line} imports {mod}")
    assert not bad, "\n".join(bad)


def test_every_sub_package_is_installed_under_pfcda():
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    listed = set(re.findall(r'"(pfcda(?:\.[a-z_]+)*)"', text.split("packages = [", 1)[1].split("]", 1)[0]))
    found = {"pfcda"}
    for folder in PACKAGES:
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            if "__init__.py" in files:
                rel = os.path.relpath(dirpath, ROOT).replace(os.sep, ".")
                found.add("pfcda." + rel)
    assert found == listed, f"pyproject packages differ: missing {found - listed}, extra {listed - found}"


def test_no_generic_top_level_names_are_installed():
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    block = text.split("packages = [", 1)[1].split("]", 1)[0]
    assert all(name.startswith("pfcda") for name in re.findall(r'"([^"]+)"', block))


def test_the_format_document_is_generated_from_the_schema():
    from pfcda.circuit.io.schema import render

    path = os.path.join(ROOT, "docs", "recording-format.md")
    doc = open(path, encoding="utf-8").read()
    assert render(doc) == doc, ("docs/recording-format.md differs from the schema: run "
                                "python -m pfcda.circuit.io.schema --write docs/recording-format.md")


def test_every_trajectory_field_is_recorded_or_said_why_not():
    import dataclasses

    from pfcda.circuit.io.schema import NOT_RECORDED, STEP_FIELDS, UNIT_FIELDS
    from pfcda.protocols.base import Batch

    sources = {f.source for f in STEP_FIELDS.values()} | {f.source for f in UNIT_FIELDS.values()}
    for f in dataclasses.fields(Batch):
        assert f.name in sources or f.name in NOT_RECORDED, f"Batch.{f.name} is neither recorded nor excused"


@pytest.mark.parametrize("argv", [["protocols"], ["--help"]])
def test_listing_imports_no_torch(argv):
    code = ("import sys\nfrom pfcda.circuit.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    env = {k: v for k, v in os.environ.items() if k != "PFCDA_PROTOCOLS"}  # built-ins only
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
