"""tests/checks.sh, the static checks CI runs before the suite, fails on each kind of
error it is there for: shown on a copy of this checkout with one defect put in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _copy(tmp_path: Path) -> Path:
    """The checkout's tracked files as they are in the working tree."""
    listed = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    copy = tmp_path / "checkout"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def _checks(copy: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not all((BIN / tool).exists() for tool in ("ruff", "mypy", "shellcheck")):
        pytest.skip("the check tools are not installed beside this interpreter (tests/run.sh)")
    env = {
        **os.environ,
        "TRACES_GIT_CHECK_BIN": str(BIN),
        "MYPY_CACHE_DIR": str(tmp_path / "mypy-cache"),
    }
    return subprocess.run(
        ["sh", str(copy / "tests" / "checks.sh"), str(copy)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _break(copy: Path, path: str, old: str, new: str) -> None:
    target = copy / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("path", "old", "new", "tool"),
    [
        # an unused import: ruff check
        (
            "traces_git/urls.py",
            "from __future__ import annotations\n",
            "from __future__ import annotations\n\nimport json\n",
            "F401",
        ),
        # a line ruff format would rewrap: ruff format --check
        (
            "traces_git/urls.py",
            "MAX_URL_LENGTH = 2048",
            "MAX_URL_LENGTH = (  2048  )",
            "would be reformatted",
        ),
        # a wrong type: mypy
        (
            "traces_git/urls.py",
            "def strip_credentials_in(",
            'def _typo() -> int:\n    return "x"\n\n\ndef strip_credentials_in(',
            "Incompatible return value",
        ),
        # an unquoted variable in the dispatcher: shellcheck
        (
            "hooks/hook-stub",
            '. "$TG_HOOKS/traces-git-dispatch"',
            '. "$TG_HOOKS/traces-git-dispatch"\necho $1',
            "SC2086",
        ),
    ],
)
def test_each_check_fails_on_its_kind_of_error(tmp_path, path, old, new, tool):
    copy = _copy(tmp_path)
    _break(copy, path, old, new)
    proc = _checks(copy, tmp_path)
    assert proc.returncode != 0
    assert tool in proc.stdout + proc.stderr
    assert "passed" not in proc.stdout
