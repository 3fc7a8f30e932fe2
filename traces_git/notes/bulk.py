"""``attach --stdin`` / ``detach --stdin``: many ``<commit> <id>`` lines, checked, then
written as one notes commit (by :func:`traces_git.notes.core.update`).

Every line is checked before anything is written: a bad ID or a name that is
not a commit stops the run with the line's number, and the notes stay as they
were. The commits are resolved by one ``git cat-file --batch-check``, whatever
their number. Several lines for one commit become one edit, applied in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from traces_git import gitcmd
from traces_git.errors import UsageError
from traces_git.notes import core as notes

MAX_LINE = 4096


class BulkEntry:
    __slots__ = ("line", "rev", "trace_id", "url")

    def __init__(self, line: int, rev: str, trace_id: str, url: str | None):
        self.line = line
        self.rev = rev
        self.trace_id = trace_id
        self.url = url


def parse_lines(lines: Sequence[str], *, allow_url: bool) -> list[BulkEntry]:
    """``<commit> <id>`` (attach: ``<commit> <id> [<url>]``) per line; blank lines and
    ``#`` comments skipped."""
    entries = []
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if len(text) > MAX_LINE:
            raise UsageError(f"stdin line {number}: longer than {MAX_LINE} characters")
        fields = text.split()
        most = 3 if allow_url else 2
        if not 2 <= len(fields) <= most:
            shape = "<commit> <id> [<url>]" if allow_url else "<commit> <id>"
            raise UsageError(f"stdin line {number}: expected '{shape}', got {_shown(text)}")
        rev, trace_id = fields[0], fields[1]
        url = fields[2] if len(fields) == 3 else None
        if not notes.is_trace_id(trace_id):
            raise UsageError(
                f"stdin line {number}: not a trace ID (letters, digits, - and _ "
                f"only): {_shown(trace_id)}"
            )
        if url is not None and not (url.startswith(("https://", "http://")) and url.isprintable()):
            raise UsageError(f"stdin line {number}: not an http(s) URL: {_shown(url)}")
        entries.append(BulkEntry(number, rev, trace_id, url))
    if not entries:
        raise UsageError("nothing on stdin: expected one '<commit> <id>' per line")
    return entries


def _shown(text: str) -> str:
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


def resolve(cwd: str, revs: Sequence[str]) -> list[str]:
    """The commit sha of each rev, in order (one ``git cat-file --batch-check``)."""
    unique = list(dict.fromkeys(revs))
    for rev in unique:
        if not rev.isprintable():
            raise UsageError(f"not a commit: {_shown(rev)}")
    request = "".join(f"{rev}^{{commit}}\n" for rev in unique).encode("utf-8", "surrogateescape")
    proc = gitcmd.run(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd, input=request, check=False
    )
    answers = proc.stdout.decode("utf-8", "replace").splitlines()
    if proc.returncode != 0 or len(answers) != len(unique):
        raise UsageError("cannot resolve the commits on stdin (git cat-file failed)")
    found: dict[str, str] = {}
    for rev, answer in zip(unique, answers, strict=True):
        fields = answer.split()
        if len(fields) != 2 or fields[1] != "commit":
            raise UsageError(f"not a commit: {_shown(rev)}")
        found[rev] = fields[0]
    return [found[rev] for rev in revs]


Edit = Callable[[str | None], str | None]


def combine(pairs: Sequence[tuple[str, Edit]]) -> dict[str, Edit]:
    """{sha: one edit} running every edit of that sha in order."""
    grouped: dict[str, list[Edit]] = {}
    for sha, edit in pairs:
        grouped.setdefault(sha, []).append(edit)
    return {sha: _chain(edits) for sha, edits in grouped.items()}


def _chain(edits: list[Edit]) -> Edit:
    def run(old: str | None) -> str | None:
        text = old
        for edit in edits:
            new = edit(text)
            if new is not None:
                text = new
        return text if text != old else None

    return run
