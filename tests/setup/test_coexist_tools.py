"""Coexistence with the real hook managers: husky, pre-commit, lefthook, and git-lfs.

Each test skips when its tool is missing (tests/run.sh installs them all).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, init_repo, note_ids, traces_git
from tests.helpers.coexist import need_git_lfs, pre_commit_cmd, read_lines, tool, write_hook


def run(
    cmd: list[str], cwd: Path, env: dict | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def new_repo(tmp_path: Path, name: str) -> Path:
    return Path(os.path.realpath(init_repo(tmp_path / name)))


def status_json(repo: Path) -> dict:
    return json.loads(traces_git("status", "--json", cwd=repo).stdout)


# ---------------------------------------------------------------- husky


def test_husky_local_hooks_path_status_explains_and_repo_install_runs_both(
    tmp_path, store, isolated
):
    husky = tool("husky")
    repo = new_repo(tmp_path, "husky repo")
    calls = tmp_path / "calls"
    run([husky], repo)
    assert git("config", "--local", "core.hooksPath", cwd=repo).stdout.strip() == ".husky/_"
    (repo / ".husky" / "pre-commit").write_text(f'echo husky >> "{calls}"\n')
    traces_git("install")

    report = status_json(repo)
    assert report["repo"]["our_hooks_run"] is False
    assert report["repo"]["husky"] is True
    assert "traces-git install --repo" in report["repo"]["explanation"]
    assert {"id": "husky", "fix": "traces-git install --repo"}.items() <= next(
        c for c in report["conflicts"] if c["id"] == "husky"
    ).items()
    doctor = traces_git("doctor", cwd=repo, check=False)
    assert doctor.returncode == 1 and "traces-git install --repo" in doctor.stdout

    store.add_trace("t-husky", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    assert read_lines(calls) == ["husky"]
    assert note_ids(repo) == []  # husky's hooks path wins: ours did not run

    config_before = (repo / ".git" / "config").read_bytes()
    traces_git("install", "--repo", cwd=repo)
    traces_git("install", "--repo", cwd=repo)
    store.add_trace("t-husky-2", repo, edits=[repo / "b.py"])
    commit_file(repo, "b.py")
    assert read_lines(calls) == ["husky", "husky"]
    assert note_ids(repo) == ["t-husky-2"]
    report = status_json(repo)
    assert report["repo"]["our_hooks_run"] is True
    assert report["installed"]["repo"]["previous_hooks_path"] == ".husky/_"

    traces_git("uninstall", "--repo", cwd=repo)
    assert (repo / ".git" / "config").read_bytes() == config_before
    commit_file(repo, "c.py")
    assert read_lines(calls) == ["husky"] * 3


def test_failing_husky_hook_still_blocks_after_repo_install(tmp_path):
    husky = tool("husky")
    repo = new_repo(tmp_path, "husky fails")
    run([husky], repo)
    (repo / ".husky" / "pre-commit").write_text("exit 1\n")
    traces_git("install", "--repo", cwd=repo)
    (repo / "x").write_text("x\n")
    git("add", "x", cwd=repo)
    assert git("commit", "-q", "-m", "x", cwd=repo, check=False).returncode != 0
    assert git("rev-parse", "-q", "--verify", "HEAD", cwd=repo, check=False).returncode != 0


# ---------------------------------------------------------------- pre-commit (the framework)

PRE_COMMIT_CONFIG = """\
repos:
- repo: local
  hooks:
  - id: record
    name: record
    entry: sh -c 'echo pre-commit-framework >> "$0"' {calls}
    language: system
    pass_filenames: false
    always_run: true
"""


def _pre_commit_repo(tmp_path: Path, name: str, calls: Path) -> Path:
    repo = new_repo(tmp_path, name)
    (repo / ".pre-commit-config.yaml").write_text(PRE_COMMIT_CONFIG.format(calls=calls))
    git("add", ".pre-commit-config.yaml", cwd=repo)
    git("commit", "-q", "-m", "config", cwd=repo)
    return repo


def test_pre_commit_framework_installed_before_ours_still_runs(tmp_path, store):
    pre_commit = pre_commit_cmd()
    calls = tmp_path / "calls"
    repo = _pre_commit_repo(tmp_path, "pc repo", calls)
    run([*pre_commit, "install"], repo)
    traces_git("install")
    store.add_trace("t-pc", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    assert read_lines(calls) == ["pre-commit-framework"]
    assert note_ids(repo) == ["t-pc"]
    assert not [c for c in status_json(repo)["conflicts"] if c["id"] == "pre-commit"]


def _path_without(directory: str) -> str:
    """PATH as the caller has it, minus one directory (a virtualenv "deactivated")."""
    keep = [
        p
        for p in os.environ["PATH"].split(os.pathsep)
        if p and os.path.realpath(p) != os.path.realpath(directory)
    ]
    return os.pathsep.join(keep)


def _pre_commit_conflict(repo: Path, path: str) -> dict:
    report = json.loads(traces_git("status", "--json", cwd=repo, env={"PATH": path}).stdout)
    return next(c for c in report["conflicts"] if c["id"] == "pre-commit")


def test_pre_commit_refuses_under_hooks_path_status_gives_the_working_fix(tmp_path):
    """pre-commit lives in a virtualenv: the fix found while it was active works without it."""
    pre_commit = pre_commit_cmd()
    venv_bin = os.path.dirname(sys.executable)
    if not os.access(os.path.join(venv_bin, "pre-commit"), os.X_OK):
        pytest.skip("pre-commit's console script is not beside the test interpreter")
    calls = tmp_path / "calls"
    traces_git("install")
    repo = _pre_commit_repo(tmp_path, "pc late", calls)
    refused = run([*pre_commit, "install"], repo, check=False)
    assert refused.returncode != 0 and "hooksPath" in refused.stdout + refused.stderr

    active = f"{venv_bin}{os.pathsep}{_path_without(venv_bin)}"
    conflict = _pre_commit_conflict(repo, active)
    assert conflict["command"] == conflict["fix"]
    assert os.path.join(venv_bin, "pre-commit") in conflict["command"]
    run(["sh", "-c", conflict["command"]], repo, env={"PATH": _path_without(venv_bin)})
    commit_file(repo, "a.py")
    assert read_lines(calls) == ["pre-commit-framework"]
    assert not [c for c in status_json(repo)["conflicts"] if c["id"] == "pre-commit"]


def test_pre_commit_fix_uses_the_interpreter_of_an_existing_pre_commit_hook(tmp_path):
    """Another hook type pre-commit installed here names the exact installation to use."""
    pre_commit = pre_commit_cmd()
    calls = tmp_path / "calls"
    repo = _pre_commit_repo(tmp_path, "pc other hook", calls)
    run([*pre_commit, "install", "--hook-type", "pre-push"], repo)
    assert (repo / ".git/hooks/pre-push").is_file()
    traces_git("install")

    bare_path = _path_without(os.path.dirname(sys.executable))
    conflict = _pre_commit_conflict(repo, bare_path)
    assert conflict["command"].endswith(" -m pre_commit install")
    run(["sh", "-c", conflict["command"]], repo, env={"PATH": bare_path})
    commit_file(repo, "a.py")
    assert read_lines(calls) == ["pre-commit-framework"]


def test_pre_commit_fix_is_said_in_words_when_no_pre_commit_can_be_found(tmp_path):
    calls = tmp_path / "calls"
    repo = _pre_commit_repo(tmp_path, "pc nowhere", calls)
    traces_git("install")
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    for name in ("git", "sh"):
        (only_git / name).symlink_to(shutil.which(name))
    conflict = _pre_commit_conflict(repo, str(only_git))
    assert conflict["command"] is None
    assert "pre-commit you installed" in conflict["fix"]
    assert "GIT_CONFIG_VALUE_0= pre-commit install" in conflict["fix"]
    doctor = traces_git("doctor", cwd=repo, check=False, env={"PATH": str(only_git)})
    assert doctor.returncode == 1 and "pre-commit you installed" in doctor.stdout


# ---------------------------------------------------------------- lefthook

LEFTHOOK_CONFIG = """\
pre-commit:
  commands:
    record:
      run: echo lefthook >> "{calls}"
"""


def test_lefthook_installed_before_ours_still_runs(tmp_path, store):
    lefthook = tool("lefthook")
    calls = tmp_path / "calls"
    repo = new_repo(tmp_path, "lh repo")
    (repo / "lefthook.yml").write_text(LEFTHOOK_CONFIG.format(calls=calls))
    run([lefthook, "install"], repo)
    traces_git("install")
    store.add_trace("t-lh", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    assert read_lines(calls) == ["lefthook"]
    assert note_ids(repo) == ["t-lh"]


def test_lefthook_refuses_under_hooks_path_status_gives_the_working_fix(tmp_path):
    lefthook = tool("lefthook")
    calls = tmp_path / "calls"
    traces_git("install")
    report = json.loads(traces_git("status", "--json").stdout)
    ours = Path(report["installed"]["global"]["hooks_dir"])
    repo = new_repo(tmp_path, "lh late")
    (repo / "lefthook.yml").write_text(LEFTHOOK_CONFIG.format(calls=calls))
    assert run([lefthook, "install"], repo, check=False).returncode != 0
    conflict = next(c for c in status_json(repo)["conflicts"] if c["id"] == "lefthook")
    path = f"{Path(lefthook).parent}{os.pathsep}{os.environ['PATH']}"
    run(["sh", "-c", conflict["fix"]], repo, env={"PATH": path})
    commit_file(repo, "a.py")
    assert read_lines(calls) == ["lefthook"]
    assert all(p.name != "pre-commit.old" for p in ours.iterdir())  # our dir untouched


# ---------------------------------------------------------------- git-lfs


@pytest.fixture
def lfs_global(isolated):
    need_git_lfs()
    git("lfs", "install", "--skip-repo")


def _lfs_objects(remote: Path) -> list[Path]:
    return sorted(p for p in (remote / "lfs" / "objects").rglob("*") if p.is_file())


def test_lfs_objects_are_pushed_through_our_hooks(tmp_path, lfs_global, store):
    traces_git("install")
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    repo = new_repo(tmp_path, "lfs repo")
    git("remote", "add", "origin", remote.as_uri(), cwd=repo)
    git("lfs", "track", "*.bin", cwd=repo)
    (repo / "big.bin").write_bytes(os.urandom(2048))
    git("add", ".gitattributes", "big.bin", cwd=repo)
    git("commit", "-q", "-m", "lfs file", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    assert len(_lfs_objects(remote)) == 1

    # ... and a fresh clone gets the real content back (smudge via the checkout).
    clone = tmp_path / "clone"
    git("clone", "-q", remote.as_uri(), str(clone))
    assert (clone / "big.bin").read_bytes() == (repo / "big.bin").read_bytes()


def test_repo_with_its_own_lfs_hook_is_not_pushed_twice(tmp_path, lfs_global):
    """The repo's own pre-push already calls git lfs: we do not call it again."""
    traces_git("install")
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    repo = new_repo(tmp_path, "lfs own hook")
    git("remote", "add", "origin", remote.as_uri(), cwd=repo)
    calls = tmp_path / "calls"
    write_hook(
        repo / ".git/hooks/pre-push",
        f'echo own-lfs-hook >> "{calls}"\n'
        "command -v git-lfs >/dev/null 2>&1 || exit 2\n"
        'git lfs pre-push "$@"',
    )
    git("lfs", "track", "*.bin", cwd=repo)
    (repo / "big.bin").write_bytes(os.urandom(1024))
    git("add", ".gitattributes", "big.bin", cwd=repo)
    git("commit", "-q", "-m", "lfs file", cwd=repo)
    proc = git("push", "origin", "main", cwd=repo, env={"GIT_TRACE": "1"})
    assert read_lines(calls) == ["own-lfs-hook"]
    assert proc.stderr.count("trace: exec: git-lfs pre-push") == 1, proc.stderr
    assert len(_lfs_objects(remote)) == 1
