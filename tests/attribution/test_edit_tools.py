"""The edit-tool table and the shell-write parser, against the official CLI 0.6.31 on
the same sessions."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.helpers import agent_sessions as agents
from tests.helpers import git, init_repo, tool_path
from traces_git import edit_tools

TRACES = tool_path("traces")


@pytest.mark.parametrize(
    ("tool", "args", "files"),
    [
        ("Write", {"file_path": "/r/a.py", "content": "x"}, ["/r/a.py"]),
        ("Edit", {"file_path": "/r/a.py", "old_string": "a", "new_string": "b"}, ["/r/a.py"]),
        ("MultiEdit", {"file_path": "/r/a.py", "edits": [{"old_string": "a"}]}, ["/r/a.py"]),
        ("NotebookEdit", {"notebook_path": "/r/n.ipynb"}, ["/r/n.ipynb"]),
        ("write", {"filePath": "/r/o.ts"}, ["/r/o.ts"]),
        (
            "apply_patch",
            {
                "raw": "*** Begin Patch\n*** Update File: a.py\n*** Move to File: b.py\n"
                "*** Delete File: c.py\n*** Add File:  d.py \n"
            },
            ["a.py", "b.py", "c.py", "d.py"],
        ),
        ("move_file", {"source": "a", "destination": "b"}, ["a", "b"]),
        ("rename-file", {"oldPath": "a", "newPath": "b"}, ["a", "b"]),
        ("str_replace_editor", {"command": "view", "path": "/r/a.py"}, []),
        ("str_replace_editor", {"command": "create", "path": "/r/a.py"}, ["/r/a.py"]),
        ("edit", {"edits": [{"path": "x.py"}, {"file": "y.py"}, "junk"]}, ["x.py", "y.py"]),
        ("create", {"command": "cat > gen.py"}, ["gen.py"]),
        # read and search tools never count, whatever their arguments
        ("Read", {"file_path": "/r/a.py"}, []),
        ("Grep", {"path": "/r/a.py", "pattern": "x"}, []),
        ("Glob", {"path": "/r", "pattern": "*.py"}, []),
        ("read", {"filePath": "/r/a.ts"}, []),
        ("LS", {"path": "/r"}, []),
        ("view", {"path": "/r/a.py"}, []),
        # shells
        ("Bash", {"command": "echo hi > out.txt && cat in.txt"}, ["out.txt"]),
        ("shell", {"command": ["bash", "-lc", "sed -i 's/a/b/' conf.ini"]}, ["conf.ini"]),
        ("shell", {"command": ["ls", "-la"]}, []),
        ("exec_command", {"cmd": "mv a.txt b.txt"}, ["a.txt", "b.txt"]),
        ("run_terminal_cmd", {"command": "touch x"}, []),  # not a shell tool in 0.6.31
        ("runTerminalCommand", {"command": "touch x"}, ["x"]),
        # hostile: wrong types, no arguments
        ("Write", None, []),
        ("Write", ["file_path"], []),
        ("Write", {"file_path": 42}, []),
        (None, {"file_path": "/r/a.py"}, []),
        ("Write", '{"file_path": "/r/j.py"}', ["/r/j.py"]),
        ("Write", "{not json", []),
    ],
)
def test_edited_files(tool, args, files):
    assert edit_tools.edited_files(tool, args) == files


@pytest.mark.parametrize(
    ("command", "files"),
    [
        ("echo x > a.txt", ["a.txt"]),
        ("echo x >> a.txt", ["a.txt"]),
        ("echo x>a.txt;echo y>'b c.txt'", ["a.txt", "b c.txt"]),
        ('echo "x > not.txt"', []),
        ("echo x 2>&1", []),
        ("cmd >&2", []),
        ("tee -a b.txt c.txt", ["b.txt", "c.txt"]),
        ("cat a | tee b.txt", []),  # 0.6.31 splits at && || ; and newlines, not at pipes
        ("sed 's/a/b/' a.txt", []),
        ("sed -i.bak 's/a/b/' a.txt", ["a.txt"]),
        ("sed --in-place 's/a/b/' a.txt", ["a.txt"]),
        ("perl -pi -e 's/a/b/' a.txt", ["a.txt"]),
        ("cp -r src dst", ["dst"]),
        ("install -m 644 a /usr/b", ["/usr/b"]),
        ("rm -f a b", ["a", "b"]),
        ("truncate -s 0 log", ["0", "log"]),  # every non-option word, as 0.6.31
        ("/bin/mv a b c", ["b", "c"]),
        ("cat a.txt", []),
        ("git status\nrm x.txt || true", ["x.txt"]),
        ("echo \\> a", []),
        ("", []),
    ],
)
def test_shell_writes(command, files):
    assert edit_tools.shell_writes(command) == files


def test_hostile_strings_stay_fast_and_safe():
    huge = "echo " + "a" * 200_000 + " > " + "b" * 100 + "\x00\x1b[31m"
    started = time.perf_counter()
    assert edit_tools.shell_writes(huge) == ["b" * 100 + "\x00\x1b[31m"]
    assert edit_tools.edited_files("apply_patch", {"raw": "*** Add File: \n" * 50_000}) == []
    assert time.perf_counter() - started < 5  # linear, not a backtracking blow-up
    assert edit_tools.resolve("a\x00b", "/r") is None
    assert edit_tools.resolve("file:///r/x%20y.py", None) == "/r/x y.py"
    assert edit_tools.resolve("rel.py", None) is None


def test_normalise():
    assert edit_tools.normalise(" Apply_Patch ") == "applypatch"
    assert edit_tools.is_edit_tool("str-replace-editor")
    assert edit_tools.is_shell_tool("Run Terminal Command")
    assert not edit_tools.is_edit_tool("Read")


# ---------------------------------------------------------------- against the official CLI

# label, tool name, args (``{f}`` is the case's own file), whether 0.6.31 counts it
CASES = [
    ("redirect", "Bash", {"command": "echo x > {f}"}),
    ("append", "Bash", {"command": "date >> {f}"}),
    ("tee", "Bash", {"command": "echo x | tee {f}"}),
    ("sed-i", "Bash", {"command": "sed -i 's/a/b/' {f}"}),
    ("sed", "Bash", {"command": "sed 's/a/b/' {f}"}),
    ("perl-pi", "Bash", {"command": "perl -pi -e 's/a/b/' {f}"}),
    ("mv", "Bash", {"command": "mv tmp.txt {f}"}),
    ("cp", "Bash", {"command": "cp tmp.txt {f}"}),
    ("touch", "Bash", {"command": "touch {f}"}),
    ("cat", "Bash", {"command": "cat {f}"}),
    ("quoted", "Bash", {"command": "echo 'x > {f}'"}),
    ("chain", "Bash", {"command": "cd . && echo x 2>&1 > {f}"}),
    ("read", "Read", {"file_path": "{abs}"}),
    ("grep", "Grep", {"pattern": "x", "path": "{abs}"}),
    ("write", "Write", {"file_path": "{abs}", "content": "x"}),
    ("edit", "Edit", {"file_path": "{abs}", "old_string": "a", "new_string": "b"}),
    ("multiedit", "MultiEdit", {"file_path": "{abs}", "edits": []}),
    ("notebook", "NotebookEdit", {"notebook_path": "{abs}", "new_source": "x"}),
    ("view", "str_replace_editor", {"command": "view", "path": "{abs}"}),
    ("create", "str_replace_editor", {"command": "create", "path": "{abs}"}),
]


def _fill(value, name: str, absolute: str):
    if isinstance(value, str):
        return value.replace("{f}", name).replace("{abs}", absolute)
    if isinstance(value, dict):
        return {k: _fill(v, name, absolute) for k, v in value.items()}
    return value


@pytest.mark.skipif(TRACES is None, reason="the official traces CLI is not installed")
def test_the_official_hook_counts_the_same_edits(tmp_path, monkeypatch):
    """One Claude Code session per case, each touching its own file; one commit of every
    file with the official hook alone: the traces it attaches are the cases it counts.
    Our parser, run on the events `traces show --json` gives for the same sessions, must
    find exactly those cases' files."""
    import os

    repo = init_repo(tmp_path / "repo")
    repo = type(repo)(os.path.realpath(repo))
    (repo / "base").write_text("base\n")
    git("add", "base", cwd=repo)
    git("commit", "-q", "-m", "base", cwd=repo)
    monkeypatch.setenv("PATH", f"{os.path.dirname(TRACES)}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [TRACES, "setup", "git"], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    official_counts, ours = set(), set()
    # four cases per commit: `traces list` indexes each agent's ten latest sessions, and the
    # official hook reads every candidate's events within a 5 s budget (0.6.31)
    for batch in (CASES[i : i + 4] for i in range(0, len(CASES), 4)):
        time.sleep(1.05)
        sessions = {}
        for label, tool, args in batch:
            name = f"case-{label}.txt"
            sessions[label] = agents.claude_session(
                repo,
                [(tool, _fill(args, name, str(repo / name)))],
                prompt=f"case {label}",
                start_ms=time.time() * 1000,
            )
        for label in sessions:
            (repo / f"case-{label}.txt").write_text(label)
        git("add", ".", cwd=repo)
        git("commit", "-q", "-m", "cases", cwd=repo, env={"TRACES_GIT": "0"})
        shown = git("notes", "--ref=traces", "show", "HEAD", cwd=repo, check=False).stdout
        for _retry in range(2):  # a loaded machine: the hook ran out of its budget
            if shown:
                break
            git("commit", "-q", "--amend", "--no-edit", cwd=repo, env={"TRACES_GIT": "0"})
            shown = git("notes", "--ref=traces", "show", "HEAD", cwd=repo, check=False).stdout
        attached = {line.split()[0].removeprefix("traces:") for line in shown.splitlines()}
        official_counts |= {label for label, trace_id in sessions.items() if trace_id in attached}
        for label, trace_id in sessions.items():
            proc = subprocess.run(
                [TRACES, "show", trace_id, "--json"],
                cwd=repo,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 0, (label, proc.stdout, proc.stderr)
            files = set()
            for event in json.loads(proc.stdout)["data"]["events"]:
                files |= edit_tools.resolve_all(edit_tools.event_files(event), str(repo))
            if str(repo / f"case-{label}.txt") in files:
                ours.add(label)
    assert official_counts == ours
    assert official_counts == {
        "redirect",
        "append",
        "sed-i",
        "perl-pi",
        "mv",
        "cp",
        "touch",
        "chain",
        "write",
        "edit",
        "multiedit",
        "notebook",
        "create",
    }
