"""Line attribution per agent format: a commit mixing agent lines, lines the person
edited after the agent, and lines the person added alone; every line's origin asserted."""

from __future__ import annotations

from pathlib import Path

from tests import helpers
from tests.helpers.lines import blame_origins, call, commit_all, session, wait_for_lines, write

A, H = "agent", "human"


def _check(repo: Path, path: str, trace: str, expected: list[tuple[str, str]]) -> dict:
    record = wait_for_lines(repo)
    got = blame_origins(repo, path)
    assert [(o, c) for o, _t, c in got] == expected
    assert all(t == (trace if o == A else None) for o, t, _c in got)
    return record


def test_claude_code_write_edit_multiedit(repo: Path, store: helpers.TraceStore) -> None:
    app = repo / "app.py"
    session(store, "claude-1", repo, "claude-code")
    call(
        store,
        "claude-1",
        "Write",
        {"file_path": str(app), "content": "def a():\n    return 1\n\ndef b():\n    return 2\n"},
        model="claude-sonnet-4",
    )
    call(
        store,
        "claude-1",
        "Edit",
        {
            "file_path": str(app),
            "old_string": "    return 2",
            "new_string": "    return 20\n    # by the agent",
            "replace_all": False,
        },
    )
    call(
        store,
        "claude-1",
        "MultiEdit",
        {
            "file_path": str(app),
            "edits": [{"old_string": "x", "new_string": "def c():\n    return 3"}],
        },
    )
    write(
        repo,
        "app.py",
        "def a():\n    return 111\n\ndef b():\n    return 20\n"
        "    # by the agent\nprint('person')\ndef c():\n    return 3\n",
    )
    commit_all(repo, "claude work")
    record = _check(
        repo,
        "app.py",
        "claude-1",
        [
            (A, "def a():"),
            (H, "    return 111"),
            (H, ""),
            (A, "def b():"),
            (A, "    return 20"),
            (A, "    # by the agent"),
            (H, "print('person')"),
            (A, "def c():"),
            (A, "    return 3"),
        ],
    )
    assert record["version"] == "0.1.0"
    conv = record["files"][0]["conversations"][0]
    assert conv["contributor"] == {"type": "ai", "model_id": "claude-sonnet-4"}
    assert conv["metadata"]["com.traces"]["trace_id"] == "claude-1"
    assert all(r["content_hash"].startswith("sha256:") for r in conv["ranges"])


def test_codex_apply_patch_add_update_move(repo: Path, store: helpers.TraceStore) -> None:
    keep = "".join(f"keep {i}\n" for i in range(3, 12))
    helpers.commit_file(repo, "old.py", "keep 1\nkeep 2\n" + keep, "before the agent")
    session(store, "codex-1", repo, "codex")
    call(
        store,
        "codex-1",
        "apply_patch",
        {
            "raw": (
                "*** Begin Patch\n*** Add File: src/new.py\n+alpha = 1\n+beta = 2\n+gamma = 3\n"
                "*** Update File: old.py\n*** Move to: moved.py\n@@\n keep 1\n+inserted by codex\n"
                " keep 2\n*** End Patch\n"
            )
        },
    )
    write(repo, "src/new.py", "alpha = 1\nbeta = 22\ngamma = 3\nperson = True\n")
    (repo / "old.py").unlink()
    write(repo, "moved.py", "keep 1\ninserted by codex\nkeep 2\n" + keep + "person line\n")
    commit_all(repo, "codex work")
    _check(
        repo,
        "src/new.py",
        "codex-1",
        [(A, "alpha = 1"), (H, "beta = 22"), (A, "gamma = 3"), (H, "person = True")],
    )
    got = blame_origins(repo, "moved.py")
    assert [o for o, _t, _c in got] == ["untraced", A] + ["untraced"] * 10 + [H]


def test_opencode_write_edit(repo: Path, store: helpers.TraceStore) -> None:
    path = repo / "lib.ts"
    session(store, "ses_open1", repo, "opencode")
    call(
        store,
        "ses_open1",
        "write",
        {"filePath": str(path), "content": "export const a = 1;\nexport const b = 2;\n"},
    )
    call(
        store,
        "ses_open1",
        "edit",
        {
            "filePath": str(path),
            "oldString": "export const b = 2;",
            "newString": "export const b = 3;\nexport const c = 4;",
        },
    )
    write(
        repo, "lib.ts", "export const a = 1;\nexport const b = 3;\nexport const c = 5;\n// person\n"
    )
    commit_all(repo, "opencode work")
    _check(
        repo,
        "lib.ts",
        "ses_open1",
        [
            (A, "export const a = 1;"),
            (A, "export const b = 3;"),
            (H, "export const c = 5;"),
            (H, "// person"),
        ],
    )


def test_gemini_write_file_replace(repo: Path, store: helpers.TraceStore) -> None:
    path = repo / "main.go"
    session(store, "gem-1", repo, "gemini-cli")
    call(
        store,
        "gem-1",
        "write_file",
        {"file_path": str(path), "content": "package main\n\nfunc main() {\n}\n"},
    )
    call(
        store,
        "gem-1",
        "replace",
        {
            "file_path": str(path),
            "old_string": "func main() {\n}",
            "new_string": "func main() {\n\tprintln(1)\n}",
        },
    )
    write(repo, "main.go", "package main\n\nfunc main() {\n\tprintln(2)\n\tprintln(3)\n}\n")
    commit_all(repo, "gemini work")
    # the blank line and the closing brace take the attribution of their block
    _check(
        repo,
        "main.go",
        "gem-1",
        [
            (A, "package main"),
            (A, ""),
            (A, "func main() {"),
            (H, "\tprintln(2)"),
            (H, "\tprintln(3)"),
            (H, "}"),
        ],
    )


def test_cursor_edit_file_and_edit_file_v2(repo: Path, store: helpers.TraceStore) -> None:
    session(store, "cursor-1", repo, "cursor")
    call(
        store, "cursor-1", "edit_file", {"target_file": "a.rb", "code_edit": "def one\n  1\nend\n"}
    )
    # edit_file_v2: the official CLI puts the file after the edit into new_string
    call(
        store,
        "cursor-1",
        "edit_file_v2",
        {
            "relativeWorkspacePath": "b.rb",
            "path": "b.rb",
            "old_string": "",
            "new_string": "x = 1\ny = 2\n",
        },
    )
    write(repo, "a.rb", "def one\n  11\nend\n# person\n")
    write(repo, "b.rb", "x = 1\ny = 2\nz = 3\n")
    commit_all(repo, "cursor work")
    _check(repo, "a.rb", "cursor-1", [(A, "def one"), (H, "  11"), (A, "end"), (H, "# person")])
    got = blame_origins(repo, "b.rb")
    assert [o for o, _t, _c in got] == [A, A, H]


def test_copilot_create_and_edit(repo: Path, store: helpers.TraceStore) -> None:
    path = repo / "notes.md"
    session(store, "copilot-1", repo, "copilot")
    call(store, "copilot-1", "create", {"path": str(path), "file_text": "# Title\nintro\n"})
    call(
        store,
        "copilot-1",
        "edit",
        {"path": str(path), "old_str": "intro", "new_str": "intro\nmore by copilot"},
    )
    write(repo, "notes.md", "# Title\nintro edited\nmore by copilot\nby hand\n")
    commit_all(repo, "copilot work")
    _check(
        repo,
        "notes.md",
        "copilot-1",
        [(A, "# Title"), (H, "intro edited"), (A, "more by copilot"), (H, "by hand")],
    )


def test_commit_without_trace_is_untraced_and_no_record(
    repo: Path, store: helpers.TraceStore
) -> None:
    write(repo, "plain.txt", "one\ntwo\n")
    commit_all(repo, "by hand")
    got = blame_origins(repo, "plain.txt")
    assert [o for o, t, _c in got] == ["untraced", "untraced"]
    assert helpers.note(repo, "HEAD", ref="traces-lines") is None
    write(repo, "plain.txt", "one\ntwo\nthree\n")
    got = blame_origins(repo, "plain.txt")
    assert [o for o, _t, _c in got] == ["untraced", "untraced", "uncommitted"]
