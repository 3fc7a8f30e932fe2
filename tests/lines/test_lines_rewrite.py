"""Line records survive amend, interactive rebase (reorder, squash), cherry-pick, a push to
a bare remote and a fresh clone by a teammate with an empty store: the same origins."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests import helpers
from tests.helpers.lines import (
    call,
    commit_all,
    session,
    wait_for_lines,
    wait_queue_empty,
    write,
)
from tests.helpers.sync import clone, make_remote, remote_ref, wait_settled

FILES = ("app.py", "b.txt", "lib.py")


def _history(repo: Path, store: helpers.TraceStore) -> list[str]:
    """c1: Claude (agent + edited + person lines); c2: the person alone; c3: Codex, mixed."""
    session(store, "claude-r", repo, "claude-code")
    call(
        store,
        "claude-r",
        "Write",
        {"file_path": str(repo / "app.py"), "content": "one = 1\ntwo = 2\nthree = 3\n"},
    )
    write(repo, "app.py", "one = 1\ntwo = 22\nthree = 3\nfour = 4\n")
    c1 = commit_all(repo, "claude")
    wait_for_lines(repo, c1)
    write(repo, "b.txt", "by hand\nonly\n")
    c2 = commit_all(repo, "person")
    session(store, "codex-r", repo, "codex")
    call(
        store,
        "codex-r",
        "apply_patch",
        {
            "raw": "*** Begin Patch\n*** Add File: lib.py\n"
            "+def f():\n+    return 'codex'\n"
            "*** End Patch\n"
        },
    )
    write(repo, "lib.py", "def f():\n    return 'codex'\n# person note\n")
    c3 = commit_all(repo, "codex")
    wait_for_lines(repo, c3)
    return [c1, c2, c3]


def _origins(repo: Path, env: dict | None = None) -> dict[str, list]:
    return {name: _blame(repo, name, env) for name in FILES}


def _blame(repo: Path, name: str, env: dict | None) -> list:
    import json

    out = helpers.traces_git("blame", name, "--json", "--offline", cwd=repo, env=env).stdout
    return [(line["origin"], line["trace"], line["content"]) for line in json.loads(out)["lines"]]


EXPECTED = {
    "app.py": [
        ("agent", "claude-r", "one = 1"),
        ("human", None, "two = 22"),
        ("agent", "claude-r", "three = 3"),
        ("human", None, "four = 4"),
    ],
    "b.txt": [("untraced", None, "by hand"), ("untraced", None, "only")],
    "lib.py": [
        ("agent", "codex-r", "def f():"),
        ("agent", "codex-r", "    return 'codex'"),
        ("human", None, "# person note"),
    ],
}


def _sequence_editor(tmp_path: Path, script: str) -> str:
    """A GIT_SEQUENCE_EDITOR that rewrites the todo list with ``script`` (python)."""
    path = tmp_path / "edit_todo.py"
    path.write_text(
        "import sys\nlines = open(sys.argv[1]).read().splitlines()\n"
        "picks = [l for l in lines if l.startswith('pick ')]\n"
        + script
        + "open(sys.argv[1], 'w').write('\\n'.join(picks) + '\\n')\n"
    )
    return f"{sys.executable} {path}"


def _hide_store() -> None:
    """Take the store away: what is left to vouch for lines are the old commits' records."""
    store_path = Path(os.environ["TRACES_EVENTSTORE"])
    store_path.rename(store_path.with_name("gone.db"))


def test_history_has_the_expected_origins(repo: Path, store: helpers.TraceStore) -> None:
    _history(repo, store)
    assert _origins(repo) == EXPECTED


def test_amend_keeps_origins(repo: Path, store: helpers.TraceStore) -> None:
    _history(repo, store)
    old = helpers.head(repo)
    helpers.git("commit", "-q", "--amend", "-m", "codex, amended", cwd=repo)
    assert helpers.head(repo) != old
    record = wait_for_lines(repo)
    wait_queue_empty(repo)
    assert record["vcs"]["revision"] == helpers.head(repo)
    assert _origins(repo) == EXPECTED


def test_amend_without_the_store_remaps_by_content(repo: Path, store: helpers.TraceStore) -> None:
    _history(repo, store)
    _hide_store()
    # the amend moves the lines: a line above the codex lines
    write(repo, "lib.py", "import os\ndef f():\n    return 'codex'\n# person note\n")
    helpers.git("commit", "-q", "-a", "--amend", "-m", "codex, amended", cwd=repo)
    record = wait_for_lines(repo)
    wait_queue_empty(repo)
    assert record["metadata"]["com.traces"]["method"] == "rewrite"
    assert _blame(repo, "lib.py", None) == [("human", None, "import os")] + EXPECTED["lib.py"]


def test_interactive_rebase_reorder(repo: Path, store: helpers.TraceStore, tmp_path: Path) -> None:
    c1, c2, c3 = _history(repo, store)
    _hide_store()
    editor = _sequence_editor(tmp_path, "picks = [picks[1], picks[0], picks[2]]\n")
    helpers.git("rebase", "-q", "-i", f"{c1}~1", cwd=repo, env={"GIT_SEQUENCE_EDITOR": editor})
    new = helpers.git("rev-list", "--reverse", f"{c1}~1..HEAD", cwd=repo).stdout.split()
    assert helpers.git("log", "--format=%s", "-3", cwd=repo).stdout.split("\n")[:3] == [
        "codex",
        "claude",
        "person",
    ]
    assert c1 not in new and c3 not in new
    wait_for_lines(repo, new[1])
    wait_for_lines(repo, new[2])
    wait_queue_empty(repo)
    assert _origins(repo) == EXPECTED


def test_interactive_rebase_squash(repo: Path, store: helpers.TraceStore, tmp_path: Path) -> None:
    c1, _c2, _c3 = _history(repo, store)
    _hide_store()
    editor = _sequence_editor(tmp_path, "picks[2] = 'squash ' + picks[2][5:]\n")
    helpers.git(
        "rebase",
        "-q",
        "-i",
        f"{c1}~1",
        cwd=repo,
        env={"GIT_SEQUENCE_EDITOR": editor, "GIT_EDITOR": "true"},
    )
    assert helpers.git("rev-list", "--count", f"{c1}~1..HEAD", cwd=repo).stdout.strip() == "2"
    record = wait_for_lines(repo)
    wait_queue_empty(repo)
    assert record["metadata"]["com.traces"]["method"] == "rewrite"
    # the person's untraced lines stay untraced inside the squashed, traced commit
    assert _origins(repo) == EXPECTED


def test_cherry_pick_keeps_origins(repo: Path, store: helpers.TraceStore) -> None:
    base = helpers.head(repo)
    c1, _c2, c3 = _history(repo, store)
    _hide_store()
    helpers.git("checkout", "-q", "-b", "other", base, cwd=repo)
    helpers.git("cherry-pick", c3, cwd=repo)
    wait_for_lines(repo)
    wait_queue_empty(repo)
    assert _blame(repo, "lib.py", None) == EXPECTED["lib.py"]


def test_push_and_fresh_clone_with_empty_store(
    installed: Path, store: helpers.TraceStore, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "work")
    _history(repo, store)
    expected = _origins(repo)
    assert expected == EXPECTED
    helpers.git("push", "-q", "origin", "HEAD:main", cwd=repo)
    wait_settled(repo)
    assert remote_ref(remote, "refs/notes/traces-lines") is not None
    teammate_env = {"TRACES_EVENTSTORE": str(tmp_path / "teammate" / "traces.db")}
    mate = clone(remote, tmp_path / "mate")
    # the clone's post-checkout fetches both notes refs in the background
    deadline = time.time() + 30
    while helpers.note(mate, "HEAD", ref="traces-lines") is None and time.time() < deadline:
        time.sleep(0.1)
    assert helpers.note(mate, "HEAD", ref="traces-lines") == helpers.note(
        repo, "HEAD", ref="traces-lines"
    )
    assert _origins(mate, teammate_env) == expected


def test_push_right_after_commit_carries_the_record_and_fetch_merges_it(
    installed: Path, store: helpers.TraceStore, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "work")
    mate = clone(remote, tmp_path / "mate")
    session(store, "claude-p", repo, "claude-code")
    call(store, "claude-p", "Write", {"file_path": str(repo / "p.py"), "content": "p = 1\n"})
    write(repo, "p.py", "p = 1\nq = 2\n")
    sha = commit_all(repo, "agent")
    helpers.git("push", "-q", "origin", "HEAD:main", cwd=repo)  # before the worker ran
    wait_settled(repo)
    assert remote_ref(remote, "refs/notes/traces-lines") is not None
    shown = helpers.git("--git-dir", str(remote), "notes", "--ref=traces-lines", "show", sha)
    assert f'"revision":"{sha}"' in shown.stdout
    # the teammate's own `git fetch` brings the tracking ref; the hook merges it
    helpers.git("fetch", "-q", "origin", cwd=mate)
    helpers.git("merge", "-q", "--ff-only", "origin/main", cwd=mate)
    deadline = time.time() + 30
    while helpers.note(mate, sha, ref="traces-lines") is None and time.time() < deadline:
        time.sleep(0.1)
    env = {"TRACES_EVENTSTORE": str(tmp_path / "nobody.db")}
    assert [o for o, _t, _c in (_blame(mate, "p.py", env))] == ["agent", "human"]
