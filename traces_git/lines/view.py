"""Reading the records for the views: blame's per-line origin, stats' per-file counts."""

from __future__ import annotations

from collections.abc import Mapping

from traces_git.lines import record

ORIGINS = ("agent", "human", "traced", "untraced", "uncommitted")
MARKERS = {"agent": "A", "human": "H", "traced": "T", "untraced": " ", "uncommitted": " "}


def records(texts: Mapping[str, str]) -> dict[str, record.Record]:
    """{sha: record} for the notes that hold a valid record of their commit."""
    found = {}
    for sha, text in texts.items():
        parsed = record.parse_note(text, sha)
        if parsed is not None:
            found[sha] = parsed
    return found


def annotate_blame(report: dict, recs: Mapping[str, record.Record]) -> None:
    """Add ``origin`` and ``trace`` to each of the report's lines (docs/blame.md)."""
    commits = {c["sha"]: c for c in report["commits"]}
    per_trace: dict[str, int] = {}
    for line in report["lines"]:
        commit = commits.get(line["commit"])
        trace = None
        if commit is None or not commit["committed"]:
            origin = "uncommitted"
        elif line["commit"] in recs:
            origin, trace = recs[line["commit"]].origin(commit.get("filename"), line["orig_line"])
        elif commit["traces"]:
            origin = "traced"
        else:
            origin = "untraced"
        line["origin"], line["trace"] = origin, trace
        if trace:
            per_trace[trace] = per_trace.get(trace, 0) + 1
    known = {t["id"] for t in report["traces"]}
    for trace_id in per_trace:
        if trace_id not in known:  # a record's trace the commit's note does not attach
            report["traces"].append(
                {
                    "id": trace_id,
                    "url": None,
                    "agent": None,
                    "title": None,
                    "commits": [],
                    "lines": 0,
                }
            )
    for rec in recs.values():
        for trace in report["traces"]:
            if trace["agent"] is None and trace["id"] in rec.traces:
                trace["agent"] = rec.traces[trace["id"]].get("agent")


def file_counts(recs: Mapping[str, record.Record]) -> dict[str, dict[str, dict[str, int]]]:
    return {sha: rec.counts() for sha, rec in recs.items()}


def split_added(
    added: int, traced: bool, counts: Mapping[str, Mapping[str, int]] | None, path: str
) -> dict[str, int]:
    """How a commit's ``added`` lines of ``path`` split into the LINE_FIELDS (sum: added)."""
    if not traced and counts is None:
        return {"untraced_added": added}
    if counts is None:
        return {"unattributed_added": added}
    row = counts.get(path, {})
    agent = min(added, row.get("agent", 0))
    untraced = min(added - agent, row.get("untraced", 0))
    return {
        "agent_added": agent,
        "human_added": added - agent - untraced,
        "untraced_added": untraced,
    }
