"""``traces-git blame``: each line of a file with its commit and that commit's traces.

One ``git blame --porcelain`` (git applies ``blame.ignoreRevsFile``,
``--ignore-rev`` and move detection itself) runs while ``git cat-file --batch``
reads the notes tree's root; the same cat-file then reads the notes of the
distinct commits blamed (only their fanout paths), never one lookup per line. Agents and titles
come from the local Traces store, when it knows the traces.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from traces_git import gitcmd, safe_text
from traces_git.constants import LINES_REF
from traces_git.errors import UsageError
from traces_git.gitcmd import unquote_path
from traces_git.lines import view as line_view
from traces_git.notes import batch as notes_batch
from traces_git.notes import core as notes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.ci.enrich import ApiSettings

UNCOMMITTED = "0" * 40  # git's name for "not committed yet" (64 zeros in a sha256 repository)
# git's own test for binary content (buffer_is_binary): a NUL in the first 8000 bytes.
BINARY_PROBE = 8000


class BlameOptions:
    __slots__ = ("rev", "line_ranges", "ignore_revs", "ignore_revs_files", "moves", "copies")

    def __init__(
        self,
        rev: str | None = None,
        line_ranges: Sequence[str] = (),
        ignore_revs: Sequence[str] = (),
        ignore_revs_files: Sequence[str] = (),
        moves: bool = False,
        copies: bool = False,
    ):
        self.rev = rev
        self.line_ranges = list(line_ranges)
        self.ignore_revs = list(ignore_revs)
        self.ignore_revs_files = list(ignore_revs_files)
        self.moves = moves
        self.copies = copies

    def git_args(self, path: str) -> list[str]:
        args = ["blame", "--porcelain"]
        if self.moves:
            args.append("-M")
        if self.copies:
            args.append("-C")
        for value in self.line_ranges:
            args += ["-L", value]
        for rev in self.ignore_revs:
            args.append(f"--ignore-rev={rev}")
        for path_ in self.ignore_revs_files:
            args.append(f"--ignore-revs-file={path_}")
        if self.rev is not None:
            if self.rev.startswith("-"):  # never read as an option (blame has no --end-of-options)
                raise UsageError(f"not a revision: {self.rev}")
            args.append(self.rev)
        return args + ["--", path]


def rev_and_path(cwd: str, before: list[str], after: list[str] | None) -> tuple[str | None, str]:
    """(REV, FILE) from the arguments as ``git blame`` reads them: ``FILE``, ``REV FILE``,
    ``REV -- FILE``, ``-- FILE REV``, or the older ``FILE REV`` when REV is a revision."""
    usage = "usage: traces-git blame [REV] [--] FILE"
    if after is not None:
        if len(before) == 1 and len(after) == 1:
            return before[0], after[0]
        if not before and len(after) == 1:
            return None, after[0]
        if not before and len(after) == 2:
            return after[1], after[0]
        raise UsageError(usage)
    if len(before) == 1:
        return None, before[0]
    if len(before) != 2:
        raise UsageError(usage)
    first, second = before
    code, _ = gitcmd.fast(
        ["rev-parse", "-q", "--verify", "--end-of-options", f"{second}^{{commit}}"], cwd
    )
    if code == 0 and not second.startswith("-"):
        return second, first  # git blame FILE REV
    if os.path.lexists(os.path.join(cwd, first)) and not os.path.lexists(os.path.join(cwd, second)):
        return second, first  # FILE and a bad REV: say which revision is bad
    return first, second


def parse_porcelain(data: bytes) -> tuple[list[dict], dict[str, dict]]:
    """(lines, commits) from ``git blame --porcelain`` output.

    A commit's headers come only with its first line; each line ends with a
    tab-prefixed copy of its content.
    """
    lines: list[dict] = []
    commits: dict[str, dict] = {}
    current: dict | None = None
    entry: dict | None = None
    for raw in data.split(b"\n"):
        if raw[:1] == b"\t":
            if entry is not None:
                entry["content"] = raw[1:]
                lines.append(entry)
            entry = None
            continue
        if entry is None:
            fields = raw.split(b" ")
            if len(fields) < 3:
                continue
            sha = fields[0].decode("ascii")
            current = commits.get(sha)
            if current is None:
                current = commits[sha] = {"sha": sha, "boundary": False}
            entry = {"commit": sha, "orig_line": int(fields[1]), "line": int(fields[2])}
            continue
        key, _, value = raw.partition(b" ")
        if current is None:
            continue
        if key == b"boundary":
            current["boundary"] = True
        elif key == b"filename":
            name = unquote_path(value)
            current.setdefault("filename", name)
            entry["filename"] = name
        elif key in (b"author", b"author-mail", b"author-time", b"author-tz", b"summary"):
            current[key.decode()] = value.decode("utf-8", "replace")
    return lines, commits


def author_date(commit: dict) -> datetime | None:
    try:
        stamp = int(commit["author-time"])
        tz = commit.get("author-tz", "+0000")
        sign = -1 if tz[:1] == "-" else 1
        offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
    except (KeyError, ValueError):
        return None
    return datetime.fromtimestamp(stamp, timezone(offset))


def _git_failure(stderr: bytes, fallback: str) -> UsageError:
    text = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines or [fallback])[0]
    for prefix in ("fatal: ", "error: "):
        reason = reason.removeprefix(prefix)
    return UsageError(reason)


def _check_not_binary(cwd: str, path: str, rev: str | None, lines: list[dict]) -> None:
    if any(b"\0" in line["content"] for line in lines):
        raise UsageError(f"{path} is a binary file: nothing to blame")
    if rev is None:
        try:
            with open(os.path.join(cwd, path), "rb") as handle:
                head = handle.read(BINARY_PROBE)
        except OSError:
            return
        if b"\0" in head:
            raise UsageError(f"{path} is a binary file: nothing to blame")


def blame(cwd: str, path: str, options: BlameOptions | None = None) -> dict:
    """The blame report (the ``--json`` shape, documented in docs/blame.md)."""
    options = options or BlameOptions()
    proc = subprocess.Popen(
        ["git", *options.git_args(path)],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=gitcmd.clean_env({"LC_ALL": "C"}),
    )
    with (
        notes_batch.for_view(cwd) as reader,
        notes_batch.for_view(cwd, LINES_REF) as lines_reader,
    ):
        reader.prepare()  # the notes roots, while git blames
        lines_reader.prepare()
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise _git_failure(err, f"git blame failed with exit code {proc.returncode}")
        lines, commits = parse_porcelain(out)
        _check_not_binary(cwd, path, options.rev, lines)
        shas = [sha for sha in commits if not is_uncommitted(sha)]
        texts = reader.read(shas)
        line_texts = lines_reader.read(shas)
    report = build_report(path, options.rev, lines, commits, texts)
    line_view.annotate_blame(report, line_view.records(line_texts))
    return report


def is_uncommitted(sha: str) -> bool:
    return not sha.strip("0")


def build_report(
    path: str, rev: str | None, lines: list[dict], commits: dict[str, dict], texts: dict[str, str]
) -> dict:
    traces: dict[str, dict] = {}
    report_commits = []
    for sha, info in commits.items():
        committed = not is_uncommitted(sha)
        refs = notes.attached(texts.get(sha)) if committed else []
        for ref in refs:
            trace = traces.setdefault(
                ref.id,
                {
                    "id": ref.id,
                    "url": ref.url,
                    "agent": None,
                    "title": None,
                    "commits": [],
                    "lines": 0,
                },
            )
            trace["url"] = trace["url"] or ref.url
            trace["commits"].append(sha)
        date = author_date(info) if committed else None
        report_commits.append(
            {
                "sha": sha if committed else None,
                "committed": committed,
                "boundary": info["boundary"],
                "author": info.get("author") if committed else None,
                "author_mail": info.get("author-mail", "").strip("<>") if committed else None,
                "author_time": date.isoformat() if date else None,
                "summary": safe_text.bounded(info.get("summary")) if committed else None,
                "filename": info.get("filename"),
                "traces": [ref.id for ref in refs],
            }
        )
    by_sha = {sha: c for sha, c in zip(commits, report_commits, strict=True)}
    report_lines = []
    for line in lines:
        commit = by_sha[line["commit"]]
        for trace_id in commit["traces"]:
            traces[trace_id]["lines"] += 1
        report_lines.append(
            {
                "line": line["line"],
                "orig_line": line["orig_line"],
                "commit": commit["sha"],
                "traces": commit["traces"],
                "content": line["content"].decode("utf-8", "replace"),
            }
        )
    return {
        "file": path,
        "rev": rev,
        "lines": report_lines,
        "commits": report_commits,
        "traces": list(traces.values()),
    }


def add_store_details(report: dict, store_path: str | None) -> list[str]:
    """Fill ``agent`` and ``title`` from the local Traces store; warnings, never raises."""
    if not report["traces"]:
        return []
    from traces_git import store

    path = store.locate_path(store_path)
    if not os.path.isfile(path):
        return []
    try:
        with store.Store(path) as db:
            known = db.get([t["id"] for t in report["traces"]])
    except Exception as exc:  # noqa: BLE001 - a broken store costs the titles, not the blame
        return [f"{exc}: showing traces without agents and titles"]
    for trace in report["traces"]:
        found = known.get(trace["id"])
        if found is None:
            continue
        # The store's text is foreign too: bounded, controls dropped, URL checked.
        trace["agent"] = safe_text.bounded(found.agent_id, 100) or trace["agent"]
        trace["title"] = safe_text.bounded(found.title) or trace["title"]
        trace["url"] = trace["url"] or safe_text.json_url(found.shared_url)
    return []


def add_api_details(report: dict, settings: ApiSettings, *, timeout: float = 3.0) -> list[str]:
    """``agent``/``title`` from the Traces API for the traces the store did not know."""
    from traces_git.ci import enrich as ci_api

    missing = [t for t in report["traces"] if t["agent"] is None and t["title"] is None]
    if not missing:
        return []
    asked = {"traces": [{"id": t["id"]} for t in missing]}
    warnings = ci_api.enrich(asked, settings, timeout=timeout)
    for trace, answer in zip(missing, asked["traces"], strict=True):
        trace["agent"] = answer.get("agent")
        trace["title"] = answer.get("title")
    return warnings
