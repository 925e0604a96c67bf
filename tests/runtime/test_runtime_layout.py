"""Every runtime module ships in the wheel: setuptools installs only the packages
that pyproject.toml lists, so a sub-folder of runtime/ would silently go missing."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_runtime_folder_with_python_is_a_listed_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert config["package-dir"]["torchlint.runtime"] == "runtime"
    folders = {p.parent for p in (ROOT / "runtime").rglob("*.py") if "__pycache__" not in p.parts}
    for folder in folders:
        relative = folder.relative_to(ROOT / "runtime").parts
        package = ".".join(("torchlint.runtime", *relative))
        assert package in listed, f"{folder} would be left out of the wheel"


def test_every_rule_code_has_a_reference_module():
    from torchlint.runtime.harness import RULE_CODES

    for code in RULE_CODES:
        assert (ROOT / "runtime" / f"reference_{code.lower()}.py").is_file()
