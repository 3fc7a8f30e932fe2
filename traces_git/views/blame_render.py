"""The terminal layout of ``traces-git blame``: git blame's columns, a trace column, a legend.

    <sha> <date> <traces> <line>) <content>

``^`` marks a boundary commit as in git blame; uncommitted lines show
``00000000`` and "not committed yet"; a commit's second and later traces
show as ``+N``. Under the lines, one row per trace: ID, agent, title, URL.
"""

from __future__ import annotations

from collections.abc import Mapping

from traces_git import safe_text
from traces_git.lines.view import MARKERS
from traces_git.terminal import paint

TRACE_COLUMN_MAX = 28
NOT_COMMITTED = "not committed yet"


def _trace_cell(ids: list[str], agents: Mapping[str, str | None]) -> str:
    if not ids:
        return ""
    first = ids[0]
    agent = agents.get(first)
    cell = f"{first} ({agent})" if agent else first
    if len(ids) > 1:
        cell += f" +{len(ids) - 1}"
    if len(cell) > TRACE_COLUMN_MAX:
        cell = cell[: TRACE_COLUMN_MAX - 1] + "…"
    return cell


def render(report: Mapping, *, colour: bool) -> str:
    commits = {c["sha"]: c for c in report["commits"]}
    agents = {t["id"]: t.get("agent") for t in report["traces"]}
    rows = []
    for line in report["lines"]:
        commit = commits[line["commit"]]
        if not commit["committed"]:
            sha, date, cell = "0" * 8, "", NOT_COMMITTED
        else:
            sha = ("^" + commit["sha"][:7]) if commit["boundary"] else commit["sha"][:8]
            date = (commit["author_time"] or "")[:10]
            traces = [line["trace"]] if line.get("trace") else line["traces"]
            cell = _trace_cell(traces, agents)
        rows.append((sha, date, cell, line, commit))
    if not rows:
        return ""
    date_width = max(len(r[1]) for r in rows)
    cell_width = max(len(r[2]) for r in rows)
    number_width = len(str(max(r[3]["line"] for r in rows)))
    # The origin marker column (A agent, H human, T commit-level traced) appears when
    # some line has a line-level record (docs/blame.md).
    marked = any(line.get("origin") in ("agent", "human") for line in report["lines"])
    out = []
    for sha, date, cell, line, commit in rows:
        traced = bool(line["traces"])
        cell_colour = "red" if not commit["committed"] else ("green" if traced else None)
        parts = [paint(sha, "yellow", colour), " ", date.ljust(date_width), " "]
        if marked:
            marker = MARKERS.get(line.get("origin") or "", " ")
            parts[:0] = [paint(marker, "green" if marker == "A" else None, colour), " "]
        if cell_width:
            parts += [paint(cell.ljust(cell_width), cell_colour, colour), " "]
        parts.append(f"{line['line']:>{number_width}}) {line['content']}")
        out.append("".join(parts))
    text = "\n".join(out) + "\n"
    if report["traces"]:
        text += "\n" + legend(report["traces"], colour=colour)
    return text


def legend(traces: list[Mapping], *, colour: bool) -> str:
    """One aligned row per trace: ID, lines, agent, title, URL (what is known)."""
    rows = []
    for trace in traces:
        count = trace.get("lines", 0)
        rows.append(
            [
                trace["id"],
                f"{count} line{'' if count == 1 else 's'}",
                *(
                    " ".join(safe_text.for_terminal(trace.get(key)).split())
                    for key in ("agent", "title", "url")
                ),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for row in rows:
        cells = [paint(row[0].ljust(widths[0]), "green", colour), row[1].rjust(widths[1])]
        cells += [row[i].ljust(widths[i]) for i in (2, 3) if widths[i]]
        cells += [row[4]] if widths[4] else []
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
