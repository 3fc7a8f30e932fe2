"""A built wheel is a complete traces-git: hook scripts inside, a console script, --version.

(`pipx install /path/to/checkout` and `uv tool install /path/to/checkout` install this
same wheel; docs/install.md.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT
from traces_git import __version__

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-cache-dir",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        if "hatchling" in proc.stderr and (
            "No matching distribution" in proc.stderr or "Could not find" in proc.stderr
        ):
            pytest.skip("the build backend (hatchling) cannot be installed here (offline)")
        raise AssertionError(proc.stderr)
    [built] = out.glob("traces_git-*.whl")
    return built


def test_wheel_carries_every_hook_script_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = {
            n.removeprefix("traces_git/hook_scripts/")
            for n in names
            if n.startswith("traces_git/hook_scripts/")
        }
        assert shipped == {p.name for p in (ROOT / "hooks").iterdir() if p.is_file()}
        for name in shipped:
            data = archive.read(f"traces_git/hook_scripts/{name}")
            assert data == (ROOT / "hooks" / name).read_bytes()
        entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "traces-git = traces_git.__main__:main" in archive.read(entry).decode()
        assert "traces_git/sync/relink.py" in names and "traces_git/ci/forge.py" in names


def test_installed_wheel_prints_its_version_and_installs_hooks_from_itself(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-cache-dir",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import traces_git; print(traces_git.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert where.startswith(str(target))  # the wheel's copy, not the checkout
    version = subprocess.run(
        [sys.executable, "-m", "traces_git", "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert version == f"traces-git, version {__version__}\n"
    subprocess.run(
        [sys.executable, "-m", "traces_git", "install"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    hooks = Path(os.environ["XDG_DATA_HOME"]) / "traces-git" / "hooks"
    assert (hooks / "post-commit").is_file() and os.access(hooks / "post-commit", os.X_OK)
    dispatcher = (hooks / "traces-git-dispatch").read_text()
    assert "traces-git-managed-hook" in dispatcher and "@TRACES_GIT_PYTHON@" not in dispatcher
