"""Compute and store a commit's record: from the transcript (the store), or from the
records of the commits it was rewritten from (amend, rebase, cherry-pick, ci remap)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from traces_git import __version__, gitcmd
from traces_git.constants import LINES_REF
from traces_git.lines import derive as derive_rule
from traces_git.lines import diff, record, tools
from traces_git.notes import core as notes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.notes.core import Signature, TraceRef
    from traces_git.store import Store

# A tool call made up to this long after the commit's time still counts (clock skew).
CALL_SLACK_MS = 5_000


class TraceWrites:
    """What one trace's tool calls wrote: {repo path: lines}, the calls, unknown tools."""

    __slots__ = ("trace_id", "agent", "model", "url", "by_path", "calls", "unknown_tools")

    def __init__(self, trace_id: str):
        self.trace_id = trace_id
        self.agent: str | None = None
        self.model: str | None = None
        self.url: str | None = None
        self.by_path: dict[str, list[str]] = {}
        self.calls: list[tuple[str, tools.Written]] = []  # (repo path, written)
        self.unknown_tools: dict[str, int] = {}


def commit_info(cwd: str, sha: str) -> tuple[str, list[str], int]:
    """(full sha, parents, committer time)."""
    out = gitcmd.run(["show", "-s", "--format=%H %ct %P", sha, "--"], cwd).stdout.decode()
    fields = out.split()
    return fields[0], fields[2:], int(fields[1])


def read_writes(
    db: Store, trace_id: str, worktree: str, until_ms: float | None
) -> TraceWrites | None:
    """The trace's written text per repository path; None when the store has no events."""
    found = db.get([trace_id]).get(trace_id)
    if found is None:
        return None
    writes = TraceWrites(trace_id)
    writes.agent, writes.url = found.agent_id, found.shared_url
    seen_events = False
    for event in db.events(trace_id):
        seen_events = True
        data = event.data
        kind = data.get("type")
        if kind == "agent_text" and not writes.model and isinstance(data.get("modelId"), str):
            writes.model = data["modelId"]
        if kind != "tool_call":
            continue
        stamp = data.get("timestamp")
        if until_ms is not None and isinstance(stamp, (int, float)) and stamp > until_ms:
            continue
        name = data.get("toolName")
        if not isinstance(name, str):
            continue
        call_id = data.get("callId") if isinstance(data.get("callId"), str) else None
        if not tools.is_known(name):
            if tools.is_textless_edit(name):
                writes.unknown_tools[name] = writes.unknown_tools.get(name, 0) + 1
            continue
        for item in tools.written(name, data.get("args"), call_id):
            path = tools.resolve(item.path, [found.directory], worktree)
            if path is None:
                continue
            writes.by_path.setdefault(path, []).extend(item.lines)
            writes.calls.append((path, item))
    return writes if seen_events else None


def derive(
    cwd: str,
    worktree: str | None,
    sha: str,
    trace_refs: Sequence[TraceRef],
    db: Store | None,
    olds: Sequence[str] = (),
    old_notes: Mapping[str, str] | None = None,
    old_traced: Mapping[str, bool] | None = None,
) -> tuple[dict | None, dict[str, TraceWrites]]:
    """``sha``'s record, or None when nothing can vouch for any of its lines.

    What the traces wrote comes from their tool calls in the store and, for a
    rewritten commit (``olds``: amend, rebase, squash, cherry-pick, ci remap),
    from the old commits' records: their agent lines, checked against each
    range's ``content_hash``, vouch for equal lines the new commit adds (never
    the old line numbers). Lines an old commit without traces added stay
    untraced (the spec's ``unknown`` contributor).
    """
    full, parents, when = commit_info(cwd, sha)
    writes: dict[str, TraceWrites] = {}
    for ref in trace_refs:
        got = None
        if db is not None and worktree:
            got = read_writes(db, ref.id, worktree, when * 1000 + CALL_SLACK_MS)
        if got is not None:
            got.url = ref.url or got.url
            writes[ref.id] = got
    written: dict[str, dict[str, list[str]]] = {t: dict(w.by_path) for t, w in writes.items()}
    info = {t: {"url": w.url, "agent": w.agent, "model": w.model} for t, w in writes.items()}
    untraced: dict[str, list[str]] = {}
    old_records = 0
    for old in olds:
        old_record = record.parse_note((old_notes or {}).get(old), old)
        if old_record is None:
            if not (old_traced or {}).get(old):
                for change in diff.added_lines(cwd, old, diff.first_parent(cwd, old)):
                    untraced.setdefault(change.path, []).extend(t for _, t in change.added)
            continue
        old_records += 1
        for trace_id, meta in old_record.traces.items():
            info.setdefault(trace_id, dict(meta))
        for trace_id, by_path in old_record.agent_lines().items():
            for path, spans in by_path.items():
                content = _blob_lines(cwd, old, path)
                if content is None:
                    continue
                for start, end, digest in spans:
                    texts = content[start - 1 : end]
                    if len(texts) != end - start + 1:
                        continue
                    if digest and record.content_hash(texts) != digest:
                        continue  # a record that does not match its commit: not trusted
                    written.setdefault(trace_id, {}).setdefault(path, []).extend(texts)
    if not writes and not old_records:
        return None, writes
    if not trace_refs and not old_records:
        return None, writes
    ids = [ref.id for ref in trace_refs]
    order = [t for t in ids if t in info] + [t for t in info if t not in ids]
    if untraced:
        written[record.UNKNOWN] = untraced
        order.append(record.UNKNOWN)
    changes = own_added(cwd, full, parents)
    owners = derive_rule.attribute_files(changes, written, order)
    files = {c.path: (c.added, owners[c.path]) for c in changes}
    method = "rewrite" if olds else "transcript"
    traces_info = {t: info[t] for t in order if t != record.UNKNOWN}
    return record.build(full, when, files, traces_info, method, __version__), writes


def own_added(cwd: str, commit: str, parents: Sequence[str]) -> list[diff.FileChange]:
    """The lines ``commit`` itself added: against its parent; for a merge, the lines new
    against every parent (its resolutions), not the merged branch's lines."""
    changes = diff.added_lines(cwd, commit, parents[0] if parents else None)
    for other in parents[1:]:
        theirs = {
            (c.path, number) for c in diff.added_lines(cwd, commit, other) for number, _ in c.added
        }
        for change in changes:
            change.added = [(n, t) for n, t in change.added if (change.path, n) in theirs]
        changes = [change for change in changes if change.added]
    return changes


def _blob_lines(cwd: str, commit: str, path: str) -> list[str] | None:
    code, out = gitcmd.fast(["cat-file", "blob", f"{commit}:{path}"], cwd)
    if code != 0:
        return None
    return out.decode("utf-8", "replace").split("\n")


def show_note(cwd: str, commit: str, ref: str) -> str | None:
    """One commit's note through git (the worker does not import pygit2: ~60 ms)."""
    code, out = gitcmd.fast(["notes", f"--ref={ref}", "show", commit], cwd)
    return out.decode("utf-8", "replace") if code == 0 else None


def store_record(cwd: str, common_dir: str, sha: str, rec: dict, author: Signature) -> bool:
    """Write ``rec`` as ``sha``'s record (replacing ours, keeping other tools' lines), with
    the same locked compare-and-swap note writer as the post-commit hook."""
    line = record.serialise(rec)

    def edit(old: str | None) -> str | None:
        # any record (also a stale copy a notes.rewriteRef=refs/notes/* rewrite carried
        # over, whose revision is the old commit) is replaced; other tools' lines are kept
        kept = [
            text
            for text in (old or "").splitlines()
            if text.strip() and record.parse_record(text.strip(), None) is None
        ]
        return "\n".join([*kept, line]) + "\n"

    changed = notes.update_one_with_git(
        cwd,
        sha,
        edit,
        message=f"traces-git: lines of {sha[:12]}",
        author=author,
        ref=LINES_REF,
        lock_path=os.path.join(common_dir, "traces-git-notes.lock"),
    )
    return changed is not None
