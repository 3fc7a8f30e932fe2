"""The fetch refspecs and notes.rewrite* settings: added lazily, removed exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit_file, git, init_repo
from traces_git.config import Config
from traces_git.repo import RepoInfo
from traces_git.sync import transfer as sync

OURS = "+refs/notes/traces*:refs/notes/remotes/{}/traces*"


def _info(path: Path) -> tuple[RepoInfo, Config]:
    return RepoInfo.discover(path), Config.load(path)


@pytest.mark.parametrize("existing_notes_section", [False, True])
def test_configure_twice_then_unconfigure_restores_config_bytes(tmp_path, existing_notes_section):
    repo = init_repo(tmp_path / "r")
    git("remote", "add", "origin", "https://example.com/a.git", cwd=repo)
    git("remote", "add", "up", "git@example.com:b/c.git", cwd=repo)
    if existing_notes_section:
        git("config", "notes.displayRef", "refs/notes/other", cwd=repo)
    config_file = repo / ".git" / "config"
    before = config_file.read_bytes()

    assert sync.ensure_configured(*_info(repo)) is True
    assert sync.ensure_configured(*_info(repo)) is False  # second run: nothing to do
    cfg = Config.load(repo)
    assert OURS.format("origin") in cfg.get_all("remote.origin.fetch")
    assert OURS.format("up") in cfg.get_all("remote.up.fetch")
    assert cfg.get_all("notes.rewriteRef") == ["refs/notes/trace[s]"]
    assert cfg.get("notes.rewriteMode") == "cat_sort_uniq"
    assert config_file.read_bytes() != before

    assert sync.unconfigure(RepoInfo.discover(repo)) is True
    assert config_file.read_bytes() == before
    assert sync.unconfigure(RepoInfo.discover(repo)) is False


def test_user_settings_are_kept(tmp_path):
    repo = init_repo(tmp_path / "r")
    git("remote", "add", "origin", "/nowhere.git", cwd=repo)
    git("config", "--add", "notes.rewriteRef", "refs/notes/commits", cwd=repo)
    git("config", "notes.rewriteMode", "concatenate", cwd=repo)
    before = (repo / ".git" / "config").read_bytes()
    sync.ensure_configured(*_info(repo))
    cfg = Config.load(repo)
    assert cfg.get_all("notes.rewriteRef") == ["refs/notes/commits", "refs/notes/trace[s]"]
    assert cfg.get("notes.rewriteMode") == "concatenate"
    sync.unconfigure(RepoInfo.discover(repo))
    assert (repo / ".git" / "config").read_bytes() == before


def test_hooks_configure_lazily_and_respect_a_removed_refspec(tmp_path, installed):
    remote = tmp_path / "r.git"
    git("init", "-q", "--bare", str(remote))
    repo = init_repo(tmp_path / "w")
    git("remote", "add", "origin", str(remote), cwd=repo)
    commit_file(repo, "a.txt")  # the first hook run configures the repo
    assert (
        OURS.format("origin") in git("config", "--get-all", "remote.origin.fetch", cwd=repo).stdout
    )
    # A remote added later is picked up by the next hook run.
    git("remote", "add", "second", str(remote), cwd=repo)
    commit_file(repo, "b.txt")
    assert (
        OURS.format("second") in git("config", "--get-all", "remote.second.fetch", cwd=repo).stdout
    )
    # The user takes ours out again: no hook puts it back.
    git(
        "config", "--fixed-value", "--unset", "remote.second.fetch", OURS.format("second"), cwd=repo
    )
    commit_file(repo, "c.txt")
    assert (
        OURS.format("second")
        not in git("config", "--get-all", "remote.second.fetch", cwd=repo, check=False).stdout
    )
    # Mirror remotes already fetch everything: left alone.
    git("remote", "add", "--mirror=fetch", "mirror", str(remote), cwd=repo)
    commit_file(repo, "d.txt")
    assert (
        OURS.format("mirror")
        not in git("config", "--get-all", "remote.mirror.fetch", cwd=repo).stdout
    )


def test_linked_worktree_and_bare_repository(tmp_path, installed):
    repo = init_repo(tmp_path / "main")
    git("remote", "add", "origin", "/nowhere.git", cwd=repo)
    commit_file(repo, "a.txt")
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)
    info, cfg = _info(tmp_path / "wt")
    assert sync.ensure_configured(info, cfg) is False  # shared config: already done
    bare = tmp_path / "bare.git"
    git("init", "-q", "--bare", str(bare))
    git("--git-dir", str(bare), "remote", "add", "origin", "/nowhere.git")
    info, cfg = _info(bare)
    assert sync.ensure_configured(info, cfg) is True
    assert (
        OURS.format("origin")
        in git("--git-dir", str(bare), "config", "--get-all", "remote.origin.fetch").stdout
    )
    assert sync.unconfigure(info) is True


def test_a_declined_refspec_is_remembered_and_costs_no_config_write(tmp_path, installed):
    from traces_git.sync import config as sync_config

    remote = tmp_path / "r.git"
    git("init", "-q", "--bare", str(remote))
    repo = init_repo(tmp_path / "w")
    git("remote", "add", "origin", str(remote), cwd=repo)
    commit_file(repo, "a.txt")
    git(
        "config", "--fixed-value", "--unset", "remote.origin.fetch", OURS.format("origin"), cwd=repo
    )
    info, cfg = _info(repo)
    assert sync.ensure_configured(info, cfg) is False  # declined: not added back
    record = sync_config.record_path(info.common_dir)
    declined = record.with_name("declined")
    assert declined.read_text() == "rewriteRef 0\nrewriteMode 0\nremote origin\n"
    record.write_text("{}")  # from now on only the marker is read, so this stays as it is
    assert sync.ensure_configured(info, cfg) is False
    commit_file(repo, "b.txt")
    assert record.read_text() == "{}"
    # Something new is missing (another remote): the full path runs and configures it.
    record.unlink()
    git("remote", "add", "second", str(remote), cwd=repo)
    assert sync.ensure_configured(*_info(repo)) is True
    assert (
        OURS.format("second") in git("config", "--get-all", "remote.second.fetch", cwd=repo).stdout
    )
    sync.unconfigure(RepoInfo.discover(repo))
    assert not declined.exists()
