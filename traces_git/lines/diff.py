"""A commit's added lines per file, from one ``git diff-tree -p -U0`` against its first parent."""

from __future__ import annotations

import re

from traces_git import gitcmd
from traces_git.errors import GitError

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class FileChange:
    """The lines one commit added to one file: [(line number in the commit, text)]."""

    __slots__ = ("path", "added")

    def __init__(self, path: str, added: list[tuple[int, str]]):
        self.path, self.added = path, added

    def __repr__(self) -> str:
        return f"FileChange({self.path!r}, {len(self.added)} added)"


def diff_args(commit: str, parent: str | None) -> list[str]:
    # -M as `git log --numstat -M` (stats), so paths and counts agree with stats.
    base = [
        "-c",
        "core.quotePath=false",
        "diff-tree",
        "-r",
        "-p",
        "-M",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ]
    return [*base, parent, commit] if parent else [*base, "--root", commit]


def added_lines(cwd: str, commit: str, parent: str | None) -> list[FileChange]:
    proc = gitcmd.run(diff_args(commit, parent), cwd, check=False, env={"LC_ALL": "C"})
    if proc.returncode != 0:
        raise GitError(f"git diff-tree {commit[:12]} failed with exit code {proc.returncode}")
    return parse(proc.stdout)


def parse(data: bytes) -> list[FileChange]:
    from traces_git.gitcmd import unquote_path

    changes: list[FileChange] = []
    current: FileChange | None = None
    in_header = False
    next_line = remaining = 0
    for raw in data.split(b"\n"):
        if remaining and current is not None and raw[:1] in (b"+", b"-", b"\\"):
            if raw[:1] == b"+":  # counted: an added "++ x" line is not a header
                current.added.append((next_line, raw[1:].decode("utf-8", "replace")))
                next_line += 1
                remaining -= 1
            continue
        if raw.startswith(b"diff --git "):
            current, in_header, remaining = None, True, 0
            continue
        if in_header and raw.startswith(b"+++ "):
            target = raw[4:]
            if target == b"/dev/null":
                continue
            path = unquote_path(target)
            current = FileChange(path[2:] if path.startswith("b/") else path, [])
            changes.append(current)
            continue
        hunk = _HUNK.match(raw)
        if hunk:
            in_header = False
            next_line = int(hunk.group(1))
            remaining = int(hunk.group(2)) if hunk.group(2) is not None else 1
    return [change for change in changes if change.added]


def first_parent(cwd: str, commit: str) -> str | None:
    code, out = gitcmd.fast(["rev-list", "--parents", "-n", "1", commit], cwd)
    if code != 0:
        raise GitError(f"not a commit: {commit}")
    fields = out.decode("ascii", "replace").split()
    return fields[1] if len(fields) > 1 else None
