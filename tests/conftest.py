"""Every test runs isolated from the machine: its own HOME, XDG dirs, git config and store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import helpers

_LEAKY = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "TRACES_TRACE_ID",
    "TRACES_GIT",
    "TRACES_HTTP_URL",
    "TRACES_URL",
    "TRACES_API_KEY",
    "TRACES_CLI_AUTH_TOKEN",
    "TRACES_CONFIG_DIR",
    "TRACES_CURRENT_TRACE_ID",
    "TRACES_CURRENT_AGENT",
    "TRACES_CURRENT_SOURCE_PATH",
    "TRACES_SOURCE_PATH",
    "CODEX_THREAD_ID",
    "PIPX_BIN_DIR",
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "GITHUB_SHA",
    "GITHUB_REF",
    "GIT_REFLOG_ACTION",
    "GIT_CONFIG_COUNT",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name in _LEAKY:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith(("XDG_", "GIT_TRACE", "GIT_CONFIG_KEY", "GIT_CONFIG_VALUE")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # A store path of the test's own: nothing reads the user's real store.
    monkeypatch.setenv("TRACES_EVENTSTORE", str(tmp_path / "store" / "traces.db"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("NO_COLOR", "1")
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    return home


@pytest.fixture
def store(tmp_path: Path) -> helpers.TraceStore:
    """An empty store with the real Traces CLI 0.6.31 schema, where TRACES_EVENTSTORE points."""
    return helpers.TraceStore(os.environ["TRACES_EVENTSTORE"], version=16)


@pytest.fixture
def installed(isolated: Path) -> Path:
    """traces-git installed for this test's user (global core.hooksPath)."""
    helpers.traces_git("install")
    return isolated


@pytest.fixture
def repo(tmp_path: Path, installed: Path) -> Path:
    """A repository (path with a space) with one commit, traces-git installed."""
    path = helpers.init_repo(tmp_path / "work tree")
    helpers.commit_file(path, "README.md", "hello\n", "initial")
    return Path(os.path.realpath(path))


@pytest.fixture(autouse=True)
def outside_any_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test in its own tmp dir, not in the checkout: `traces-git install`
    (global) also configures the repository it is run from, which must never be ours."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd)
