"""``traces-git log``: the commits ``git log`` would list, with their traces.

One ``git log`` streams the commits (revisions, ranges, ``--all``, ``--since``,
paths: git's own meaning, see :mod:`traces_git.views.revargs`); one
``git cat-file --batch`` reads the notes of the commits read so far, batch by
batch, so ``log -n 1`` stops after the first commit with traces and reads a
handful of notes however many the repository holds. By default only commits
with traces are listed; ``untraced`` lists every commit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from traces_git import gitcmd
from traces_git.errors import UsageError
from traces_git.notes import batch as notes_batch
from traces_git.notes import core as notes
from traces_git.views.revargs import RevArgs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator

FIRST_BATCH = 16
LARGEST_BATCH = 2048


class Entry:
    __slots__ = ("sha", "subject", "traces")

    def __init__(self, sha: str, subject: str, traces: list[notes.TraceRef]):
        self.sha = sha
        self.subject = subject
        self.traces = traces

    def as_json(self) -> dict:
        from traces_git import safe_text

        return {
            "sha": self.sha,
            "subject": safe_text.bounded(self.subject),
            "traces": [ref.as_json() for ref in self.traces],
        }


class Walk:
    """The entries to show, in order; ``truncated`` is known once they are all read."""

    def __init__(self, cwd: str, rev: RevArgs, *, untraced: bool = False):
        self.cwd = cwd
        self.rev = rev
        self.untraced = untraced
        self.truncated = False

    def __iter__(self) -> Iterator[Entry]:
        rev = self.rev
        limit = rev.max_count
        matching = self._matching()
        try:
            skipped = 0
            shown = 0
            for entry in matching:
                if skipped < rev.skip:
                    skipped += 1
                    continue
                if limit is not None and shown >= limit:
                    self.truncated = True  # one more commit matched: -n cut the walk
                    return
                shown += 1
                yield entry
        finally:
            matching.close()

    def entries(self) -> list[Entry]:
        """All of them, in the order asked for (``--reverse`` applied)."""
        listed = list(self)
        return listed[::-1] if self.rev.reverse else listed

    def _git_args(self) -> list[str]:
        args = ["log", "-z", "--no-show-signature", "--format=%H%x00%s"]
        if self.untraced and self.rev.max_count is not None:
            # No filter of ours: git stops one commit after the last one shown.
            args.append(f"--max-count={self.rev.skip + self.rev.max_count + 1}")
        return args + self.rev.args

    def _matching(self) -> Generator[Entry, None, None]:
        proc = gitcmd.piped(self._git_args(), self.cwd, stderr=True, env={"LC_ALL": "C"})
        assert proc.stdout is not None and proc.stderr is not None  # both piped: stderr=True
        finished = False
        try:
            with notes_batch.for_view(self.cwd) as reader:
                batch = FIRST_BATCH
                for records in _records(proc, lambda: batch):  # noqa: B023 - the size as it grows
                    texts = reader.read(sha for sha, _ in records)
                    for sha, subject in records:
                        refs = notes.attached(texts.get(sha))
                        if refs or self.untraced:
                            yield Entry(sha, subject, refs)
                    batch = min(batch * 4, LARGEST_BATCH)
            finished = True
        finally:
            if not finished and proc.poll() is None:
                proc.kill()
            err = proc.stderr.read() if finished else b""
            proc.stdout.close()
            proc.stderr.close()
            code = proc.wait()
        if finished and code != 0:
            raise _failure(err, code)


def _records(proc: gitcmd.Piped, size: Callable[[], int]) -> Iterator[list[tuple[str, str]]]:
    """(sha, subject) records of ``git log -z --format=%H%x00%s``, in lists of up to size()."""
    assert proc.stdout is not None  # piped() always pipes stdout
    fd = proc.stdout.fileno()
    pending = b""
    tokens: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if chunk:
            parts = (pending + chunk).split(b"\0")
            pending = parts.pop()
            tokens += parts
        else:
            if pending:
                tokens.append(pending)
            pending = b""
        usable = len(tokens) - len(tokens) % 2
        while usable >= 2:
            take = min(usable, 2 * size())
            records = [
                (
                    tokens[j].strip().decode("ascii", "replace"),
                    tokens[j + 1].decode("utf-8", "replace"),
                )
                for j in range(0, take, 2)
            ]
            del tokens[:take]
            usable -= take
            yield [(sha, subject) for sha, subject in records if sha]
        if not chunk:
            return


def _failure(stderr: bytes, code: int) -> UsageError:
    lines = [
        line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()
    ]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines or [f"git log failed with exit code {code}"])[0]
    return UsageError(reason.removeprefix("fatal: ").removeprefix("error: "))


def render(entry: Entry) -> str:
    """Text for the terminal: the subject is foreign text (escape sequences, controls and
    bidi characters removed); IDs and URLs passed the note format's checks."""
    from traces_git import safe_text

    lines = [f"{entry.sha[:12]} {safe_text.for_terminal(entry.subject)}"]
    for ref in entry.traces:
        lines.append(f"    {ref.id}" + (f"  {ref.url}" if ref.url else ""))
    return "\n".join(lines) + "\n"


def show(
    argv: list[str], *, untraced: bool = False, as_json: bool = False, no_pager: bool = False
) -> None:
    """``traces-git log``: print the walk (JSON, or paged text like git log)."""
    import sys

    from traces_git import terminal
    from traces_git.views import revargs

    rev = revargs.parse(argv, command="log")
    cwd = os.getcwd()
    walk = Walk(cwd, rev, untraced=untraced)
    if as_json:
        import json

        commits = [entry.as_json() for entry in walk.entries()]
        sys.stdout.write(
            json.dumps(
                {"commits": commits, "truncated": walk.truncated, "max_count": rev.max_count}
            )
            + "\n"
        )
        return
    paging = terminal.stdout_is_tty() and not no_pager
    with terminal.output(cwd, use_pager=paging) as stream:
        entries = walk.entries() if rev.reverse else walk
        for entry in entries:
            stream.write(render(entry))
            if not paging:
                stream.flush()
