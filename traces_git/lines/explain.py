"""``traces-git explain``'s line section: per file, each trace's lines and the tool calls
that wrote them; the file-writing tool calls whose text could not be read."""

from __future__ import annotations

import os

from traces_git.constants import LINES_REF
from traces_git.lines import compute, derive, record
from traces_git.notes import batch as notes_batch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo


def explain_lines(repo: RepoInfo, config: Config, sha: str) -> dict:
    from traces_git import store

    cwd = repo.worktree or repo.common_dir
    rec = record.parse_note(notes_batch.read_for_view(cwd, [sha], LINES_REF).get(sha), sha)
    out: dict = {
        "recorded": rec is not None,
        "method": rec.method if rec else None,
        "files": [],
        "unknown_tools": [],
        "store": None,
    }
    if rec is None:
        out["why"] = (
            "no line record: commit-level attribution only (run `traces-git lines "
            "backfill` where the traces are in the store)"
        )
        return out
    writes: dict[str, compute.TraceWrites] = {}
    path = store.locate_path(config.get("traces.store"))
    if os.path.isfile(path) and repo.worktree:
        try:
            with store.Store(path) as db:
                when = compute.commit_info(cwd, sha)[2] * 1000 + compute.CALL_SLACK_MS
                for trace_id in rec.traces:
                    got = compute.read_writes(db, trace_id, repo.worktree, when)
                    if got is not None:
                        writes[trace_id] = got
        except store.StoreError as exc:
            out["store"] = str(exc)
    for trace_id, got in writes.items():
        for name, count in sorted(got.unknown_tools.items()):
            out["unknown_tools"].append({"trace": trace_id, "tool": name, "calls": count})
    for file_path, counts in sorted(rec.counts().items()):
        content = compute._blob_lines(cwd, sha, file_path) or []
        row: dict = {
            "path": file_path,
            "human": counts["human"],
            "untraced": counts["untraced"],
            "traces": [],
        }
        for trace_id, by_path in rec.agent_lines().items():
            spans = by_path.get(file_path, [])
            texts = {derive.normalise(t) for s, e, _h in spans for t in content[s - 1 : e]}
            calls = []
            for call_path, item in writes[trace_id].calls if trace_id in writes else []:
                matched = sum(1 for line in item.lines if derive.normalise(line) in texts)
                if call_path == file_path and matched:
                    calls.append(
                        {"tool": item.tool, "call_id": item.call_id, "matched_lines": matched}
                    )
            lines = sum(e - s + 1 for s, e, _h in spans)
            if lines:
                row["traces"].append({"id": trace_id, "lines": lines, "calls": calls})
        out["files"].append(row)
    return out


def render(section: dict) -> list[str]:
    lines = ["", "lines:"]
    if not section["recorded"]:
        return lines + [f"  {section['why']}"]
    lines[-1] = f"lines (record derived from the {section['method'] or 'unknown'}):"
    for row in section["files"]:
        parts = [f"{t['id']} {t['lines']}" for t in row["traces"]]
        parts += [f"human {row['human']}"] + (
            [f"untraced {row['untraced']}"] if row["untraced"] else []
        )
        lines.append(f"  {record.safe_path(row['path'])}: " + ", ".join(parts))
        for trace in row["traces"]:
            for call in trace["calls"]:
                tool, call_id = (
                    record.safe_path(call["tool"]),
                    record.safe_path(call["call_id"] or ""),
                )
                lines.append(
                    f"      {trace['id']}: {tool} {call_id} "
                    f"({call['matched_lines']} line(s))".replace("  (", " (")
                )
    for item in section["unknown_tools"]:
        lines.append(
            f"  {item['trace']}: {item['calls']} call(s) of "
            f"{record.safe_path(item['tool'])}, a "
            "file-writing tool whose text cannot be read: not attributed"
        )
    if section.get("store"):
        lines.append(f"  store: {section['store']}")
    return lines
