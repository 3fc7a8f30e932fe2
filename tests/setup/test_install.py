"""traces-git install / uninstall / status / doctor, and install.sh on a throwaway HOME."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, commit_file, git, init_repo, note, note_ids, traces_git
from tests.helpers.coexist import global_hooks_path, recording_hook, write_hook
from traces_git.setup import install

# Captured at import, before the autouse fixture swaps HOME: install.sh's test may
# reuse the machine's pip cache so it downloads nothing twice.
_REAL_PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pip"
)


def gitconfig(home: Path) -> Path:
    return Path(os.environ["GIT_CONFIG_GLOBAL"])


def new_repo(tmp_path: Path, name: str = "repo") -> Path:
    path = Path(os.path.realpath(init_repo(tmp_path / name)))
    return path


def test_install_sets_global_hooks_path_and_status_reports_it(isolated, tmp_path):
    out = traces_git("install").stdout
    hooks_dir = Path(os.environ["XDG_DATA_HOME"]) / "traces-git" / "hooks"
    assert str(hooks_dir) in out
    assert global_hooks_path() == str(hooks_dir)
    dispatcher = (hooks_dir / install.DISPATCHER).read_text()
    assert "@TRACES_GIT" not in dispatcher
    assert f"TG_PYTHON={shlex.quote(sys.executable)}\n" in dispatcher

    repo = new_repo(tmp_path)
    report = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert report["installed"]["global"]["active"] is True
    assert report["installed"]["global"]["hooks_dir"] == str(hooks_dir)
    assert report["repo"]["our_hooks_run"] is True
    assert report["repo"]["effective_hooks_path"] == str(hooks_dir)
    assert report["store"]["found"] is False
    assert "notes_sync" in report and "upload" in report
    text = traces_git("status", cwd=repo).stdout
    assert f"installed globally: {hooks_dir} (active)" in text


def test_status_shows_store_schema_and_last_hook_runs(repo, store):
    store.add_trace("t-1", repo, edits=[repo / "a.py"])
    sha = commit_file(repo, "a.py")
    report = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert report["store"] == {"path": str(store.path), "found": True, "user_version": 16}
    last = report["recent_runs"][-1]
    assert (last["hook"], last["outcome"], last["repo"], last["commit"]) == (
        "post-commit",
        "ok",
        str(repo),
        sha,
    )
    text = traces_git("status", cwd=repo).stdout
    assert "schema user_version 16" in text
    assert "post-commit ok" in text


def test_install_twice_then_uninstall_restores_config_byte_for_byte(isolated, tmp_path):
    config = gitconfig(isolated)
    previous = tmp_path / "old hooks"
    recording_hook(previous / "pre-commit", tmp_path / "calls")
    git("config", "--global", "core.hooksPath", str(previous))
    git("config", "--global", "alias.st", "status")
    repo = new_repo(tmp_path)
    git("remote", "add", "origin", str(tmp_path / "remote.git"), cwd=repo)
    global_before = config.read_bytes()
    repo_before = (repo / ".git" / "config").read_bytes()
    # A second repository that only the hooks ever saw (they configure notes sync lazily).
    other = new_repo(tmp_path, "other repo")
    git("remote", "add", "upstream", str(tmp_path / "remote.git"), cwd=other)
    other_before = (other / ".git" / "config").read_bytes()

    traces_git("install", cwd=repo)
    traces_git("install", cwd=repo)
    commit_file(other, "b.py")
    assert global_hooks_path() != str(previous)
    # notes sync configured this repository (fetch refspec, rewriteRef): undone below
    assert (repo / ".git" / "config").read_bytes() != repo_before
    commit_file(repo, "a.py")
    assert (tmp_path / "calls").read_text() == "pre-commit \n" * 2  # previous hooks path ran
    assert (other / ".git" / "config").read_bytes() != other_before
    traces_git("uninstall", cwd=repo)

    assert config.read_bytes() == global_before
    assert (repo / ".git" / "config").read_bytes() == repo_before
    assert (other / ".git" / "config").read_bytes() == other_before
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "traces-git" / "hooks").exists()


def test_uninstall_removes_the_section_and_file_it_created(isolated, tmp_path):
    config = gitconfig(isolated)
    config.write_text("[user]\n\tname = Someone\n")
    before = config.read_bytes()
    traces_git("install")
    traces_git("install")
    assert b"[core]" in config.read_bytes()
    traces_git("uninstall")
    assert config.read_bytes() == before

    config.unlink()
    traces_git("install")
    traces_git("uninstall")
    assert not config.exists()


def test_repo_install_twice_then_uninstall_restores_repo_config(isolated, tmp_path):
    repo = new_repo(tmp_path)
    git("config", "--local", "core.hooksPath", ".githooks", cwd=repo)
    calls = tmp_path / "calls"
    recording_hook(repo / ".githooks" / "pre-commit", calls, label="githooks")
    recording_hook(repo / ".git" / "hooks" / "pre-commit", calls, label="own")
    before = (repo / ".git" / "config").read_bytes()
    global_before = gitconfig(isolated).read_bytes()

    traces_git("install", "--repo", cwd=repo)
    traces_git("install", "--repo", cwd=repo / ".git")  # from inside the git dir: same repo
    local = git("config", "--local", "core.hooksPath", cwd=repo).stdout.strip()
    assert install.is_our_hooks_dir(local)
    commit_file(repo, "a.py")
    assert calls.read_text() == "own \ngithooks \n"
    report = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert report["installed"]["repo"]["active"] is True
    assert report["installed"]["global"] is None
    assert report["repo"]["our_hooks_run"] is True

    traces_git("uninstall", "--repo", cwd=repo)
    assert (repo / ".git" / "config").read_bytes() == before
    assert gitconfig(isolated).read_bytes() == global_before
    assert not Path(local).exists()


def test_uninstall_leaves_a_hooks_path_changed_by_someone_else(isolated, tmp_path):
    traces_git("install")
    other = str(tmp_path / "other")
    git("config", "--global", "core.hooksPath", other)
    report = json.loads(traces_git("status", "--json").stdout)
    assert [c["fix"] for c in report["conflicts"] if c["id"] == "global-hooks-path-changed"] == [
        "traces-git install"
    ]
    out = traces_git("uninstall").stdout
    assert "left as it is" in out
    assert global_hooks_path() == other


def test_reinstall_after_upgrade_rewrites_python_and_keeps_previous(isolated, tmp_path):
    previous = str(tmp_path / "prev")
    git("config", "--global", "core.hooksPath", previous)
    first = install.install(python="/opt/old/python")
    second = install.install()
    assert first.previous == second.previous == previous
    dispatcher = (Path(second.hooks_dir) / install.DISPATCHER).read_text()
    assert "/opt/old/python" not in dispatcher and sys.executable in dispatcher
    install.uninstall()
    assert global_hooks_path() == previous


def test_doctor_flags_missing_python_with_a_fix(isolated, tmp_path):
    install.install(python=str(tmp_path / "gone" / "python"))
    repo = new_repo(tmp_path)
    proc = traces_git("doctor", "--json", cwd=repo, check=False)
    assert proc.returncode == 1
    problems = {p["id"]: p for p in json.loads(proc.stdout)["problems"]}
    assert problems["global-python-missing"]["fix"] == "traces-git install"
    assert "store-missing" in problems
    # The hooks still never block git, even with their Python gone.
    commit_file(repo, "a.py")


def test_doctor_not_installed_and_outside_a_repo(isolated, tmp_path):
    proc = traces_git("doctor", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "fix: traces-git install" in proc.stdout
    status = json.loads(traces_git("status", "--json", cwd=tmp_path).stdout)
    assert status["repo"] is None and status["installed"]["global"] is None


def test_install_repo_outside_a_repository_is_a_one_line_error(isolated, tmp_path):
    proc = traces_git("install", "--repo", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("traces-git: not inside a git repository")
    assert "Traceback" not in proc.stderr


def test_commands_have_help(isolated):
    for name in ("install", "uninstall", "status", "doctor"):
        assert "Usage:" in traces_git(name, "--help").stdout


def test_hooks_survive_a_broken_store_and_never_block(repo, store, tmp_path):
    """A store that is not a database: the commit is made, the chained hook still runs,
    no note, and the reason is recorded where `status` shows it (not a crash)."""
    Path(store.path).write_bytes(b"not a database")
    chained = tmp_path / "chained-hook-ran"
    write_hook(repo / ".git/hooks/post-commit", f"touch '{chained}'")
    sha = commit_file(repo, "a.py")
    assert note(repo) is None
    assert chained.is_file()
    status = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert "file is not a database" in status["store"]["error"]
    [run] = [r for r in status["recent_runs"] if r.get("commit") == sha]
    assert run["hook"] == "post-commit" and run["outcome"] == "warning"
    assert "file is not a database" in run["store"]


# ---------------------------------------------------------------- install.sh


@pytest.mark.slow
def test_install_sh_on_a_fresh_home_then_uninstall(isolated, tmp_path, store):
    """install.sh into a throwaway HOME; a commit gets its note; --uninstall undoes it all."""
    env = {
        "PIP_CACHE_DIR": _REAL_PIP_CACHE,
        "PATH": os.environ["PATH"],
        "PYTHON": sys.executable,
    }
    proc = subprocess.run(
        ["sh", str(ROOT / "install.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    link = isolated / ".local" / "bin" / "traces-git"
    venv = Path(os.environ["XDG_DATA_HOME"]) / "traces-git" / "venv"
    assert link.is_symlink() and Path(os.readlink(link)).parent == venv / "bin"
    hooks_path = global_hooks_path()
    assert hooks_path and Path(hooks_path, "post-commit").is_file()
    assert str(venv / "bin" / "python") in Path(hooks_path, install.DISPATCHER).read_text()

    # Idempotent: a second run changes nothing and succeeds.
    again = subprocess.run(
        ["sh", str(ROOT / "install.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stdout + again.stderr

    repo = new_repo(tmp_path, "fresh repo")
    store.add_trace("t-fresh", repo, edits=[repo / "app.py"])
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["t-fresh"]
    status = subprocess.run(
        [str(link), "status", "--json"], capture_output=True, text=True, cwd=repo
    )
    assert json.loads(status.stdout)["repo"]["our_hooks_run"] is True

    proc = subprocess.run(
        ["sh", str(ROOT / "install.sh"), "--uninstall"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert global_hooks_path() is None
    assert "hookspath" not in gitconfig(isolated).read_text().lower()
    assert not link.exists() and not link.is_symlink()
    assert not venv.exists()


def test_doctor_is_happy_when_everything_is_in_place(repo, store):
    proc = traces_git("doctor", cwd=repo)
    assert proc.stdout.strip() == "traces-git: everything looks fine"
    assert json.loads(traces_git("doctor", "--json", cwd=repo).stdout) == {
        "ok": True,
        "problems": [],
    }


def test_doctor_flags_deleted_hook_scripts_and_install_repairs(isolated, tmp_path):
    result = install.install()
    for entry in Path(result.hooks_dir).iterdir():
        entry.unlink()
    repo = new_repo(tmp_path)
    proc = traces_git("doctor", "--json", cwd=repo, check=False)
    problems = {p["id"]: p for p in json.loads(proc.stdout)["problems"]}
    assert problems["global-hooks-missing"]["fix"] == "traces-git install"
    traces_git("install")
    problems = json.loads(traces_git("doctor", "--json", cwd=repo, check=False).stdout)["problems"]
    assert "global-hooks-missing" not in {p["id"] for p in problems}


def test_install_json_and_uninstall_when_not_installed(isolated, tmp_path):
    out = json.loads(traces_git("uninstall", "--json", cwd=tmp_path).stdout)
    assert out["changed"] is False and "not installed" in out["notes"][0]
    before = gitconfig(isolated).read_bytes()
    out = json.loads(traces_git("install", "--json", cwd=tmp_path).stdout)
    assert out["scope"] == "global" and out["changed"] is True
    assert global_hooks_path() == out["hooks_dir"]
    assert json.loads(traces_git("install", "--json", cwd=tmp_path).stdout)["changed"] is False
    traces_git("uninstall", cwd=tmp_path)
    assert gitconfig(isolated).read_bytes() == before
