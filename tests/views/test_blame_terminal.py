"""``traces-git blame`` on a real terminal (a pty) and on a pipe: pager and colour as git."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.helpers import PYTHON, commit_file, git, init_repo, traces_git

ESC = "\x1b["


def _in_pty(args: list[str], cwd: Path, env: dict | None = None) -> tuple[int, str]:
    """Run traces-git with stdin, stdout and stderr on a new pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [PYTHON, "-m", "traces_git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    repo = init_repo(tmp_path / "repo")
    sha = commit_file(repo, "f.txt", "first line\nsecond line\n", "one")
    git("notes", "--ref=traces", "add", "-m", "traces:alpha", sha, cwd=repo)
    commit_file(repo, "f.txt", "first line\nsecond line\nthird line\n", "two")
    pager_out = tmp_path / "pager.out"
    less_out = tmp_path / "less.out"
    git("config", "core.pager", f"printenv LESS > {less_out}; cat > {pager_out}", cwd=repo)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("GIT_PAGER", raising=False)
    monkeypatch.delenv("PAGER", raising=False)
    monkeypatch.delenv("LESS", raising=False)
    return {"repo": repo, "sha": sha, "pager": pager_out, "less": less_out, "tmp": tmp_path}


def test_on_a_terminal_the_output_goes_through_core_pager_in_colour(setup: dict) -> None:
    code, screen = _in_pty(["blame", "f.txt"], setup["repo"])
    assert code == 0
    assert screen == ""
    paged = setup["pager"].read_text()
    assert ESC in paged  # color.ui defaults to auto, and the pager counts as the terminal
    assert "alpha" in paged and "3) third line" in paged
    assert setup["less"].read_text() == "FRX\n"  # LESS set as git sets it


def test_no_pager_prints_on_the_terminal_in_colour(setup: dict) -> None:
    code, screen = _in_pty(["blame", "--no-pager", "f.txt"], setup["repo"])
    assert code == 0
    assert not setup["pager"].exists()
    assert f"{ESC}33m^{setup['sha'][:7]}{ESC}m" in screen  # the root commit: a boundary
    assert "2) second line" in screen


def test_color_ui_never_and_term_dumb_turn_colour_off_on_a_terminal(setup: dict) -> None:
    git("config", "color.ui", "never", cwd=setup["repo"])
    code, _ = _in_pty(["blame", "f.txt"], setup["repo"])
    assert code == 0
    paged = setup["pager"].read_text()
    assert "alpha" in paged and ESC not in paged
    git("config", "--unset", "color.ui", cwd=setup["repo"])
    code, screen = _in_pty(["blame", "--no-pager", "f.txt"], setup["repo"], {"TERM": "dumb"})
    assert code == 0 and "1) first line" in screen and ESC not in screen
    code, screen = _in_pty(
        ["blame", "--no-pager", "--color=always", "f.txt"], setup["repo"], {"TERM": "dumb"}
    )
    assert ESC in screen


def test_git_pager_wins_over_core_pager_and_cat_means_no_pager(setup: dict) -> None:
    other = setup["tmp"] / "other.out"
    code, _ = _in_pty(["blame", "f.txt"], setup["repo"], {"GIT_PAGER": f"cat > {other}"})
    assert code == 0
    assert "third line" in other.read_text() and not setup["pager"].exists()
    git("config", "core.pager", "cat", cwd=setup["repo"])
    code, screen = _in_pty(["blame", "f.txt"], setup["repo"])
    assert code == 0 and "3) third line" in screen


def test_a_pager_that_quits_early_is_not_an_error(setup: dict) -> None:
    lines = "".join(f"line {i}\n" for i in range(20000))
    commit_file(setup["repo"], "big.txt", lines, "big")
    code, screen = _in_pty(["blame", "big.txt"], setup["repo"], {"GIT_PAGER": "head -n 1"})
    assert code == 0
    assert screen.count("line 0") == 1 and "Traceback" not in screen and "line 19999" not in screen


def test_on_a_pipe_there_is_no_pager_and_colour_follows_color_ui(setup: dict) -> None:
    repo = setup["repo"]
    proc = traces_git("blame", "f.txt", cwd=repo)
    assert not setup["pager"].exists()
    assert ESC not in proc.stdout and "1) first line" in proc.stdout
    git("config", "color.ui", "always", cwd=repo)
    assert ESC in traces_git("blame", "f.txt", cwd=repo).stdout
    assert ESC not in traces_git("blame", "--no-color", "f.txt", cwd=repo).stdout
    git("config", "color.ui", "auto", cwd=repo)
    assert ESC in traces_git("blame", "--color", "f.txt", cwd=repo).stdout
    assert ESC not in traces_git("blame", "--color=auto", "f.txt", cwd=repo).stdout
    assert not setup["pager"].exists()
