"""``traces-git ci`` output: markdown for a PR comment or job summary, GitHub step files."""

from __future__ import annotations

from collections.abc import Mapping

from traces_git import safe_text
from traces_git.ci.report import reason_of
from traces_git.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# A hidden marker: a workflow finds (and updates) its one PR comment by it.
MARKER = "<!-- traces-git:ci -->"
# Rows per table; the character budget below may stop a table sooner.
MARKDOWN_MAX_ROWS = 100


# GitHub rejects a comment over 65,536 characters: the report stops short of this,
# whatever the notes, subjects and titles hold.
MARKDOWN_MAX_CHARS = 60_000
ID_WIDTH = 40  # characters of a trace ID shown (IDs may have 128)


def _cell(text: str | None, limit: int = 80) -> str:
    """Foreign text made literal for a markdown table cell (see ``safe_text``)."""
    return safe_text.for_markdown(text, limit)


def _link(trace: Mapping) -> str:
    """The trace's ID, linked only to a URL that passed the note format's check."""
    return safe_text.markdown_link(safe_text.code(trace["id"], ID_WIDTH), trace.get("url"))


class _Budget:
    """Lines of a markdown report that together stay under MARKDOWN_MAX_CHARS."""

    # Room kept for the closing lines ("…and N more", </details>) of every table.
    RESERVE = 2_000

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.used = 0

    def add(self, *lines: str) -> None:
        for line in lines:
            self.lines.append(line)
            self.used += len(line) + 1

    def fits(self, line: str) -> bool:
        return self.used + len(line) + 1 <= MARKDOWN_MAX_CHARS - self.RESERVE

    def rows(self, rows: list[Mapping], render: Callable[[Mapping], str], noun: str) -> None:
        """Add one line per row while they fit (MARKDOWN_MAX_ROWS at most); count the rest."""
        shown = 0
        for row in rows[:MARKDOWN_MAX_ROWS]:
            line = render(row)
            if not self.fits(line):
                break
            self.add(line)
            shown += 1
        if len(rows) > shown:
            self.add("", f"…and {len(rows) - shown} more {noun}.")


def render_markdown(report: Mapping) -> str:
    """A compact summary for a PR comment or the job summary; starts with MARKER.

    Never longer than MARKDOWN_MAX_CHARS: long IDs, subjects and titles are cut
    with an ellipsis, and rows that do not fit are counted ("…and N more").
    """
    commits = report["commits"]
    traces = report["traces"]
    with_traces = [c for c in commits if c["traces"]]
    head = safe_text.code(report.get("head") or "", 12, ellipsis=False)
    span = head
    if report.get("base"):
        span = f"{safe_text.code(report['base'], 12, ellipsis=False)[:-1]}..{head[1:]}"
    if report.get("revisions"):  # `ci <git revisions>`: as typed, in a code span (no markup)
        typed = safe_text.for_terminal(str(report["revisions"]), 200).replace("`", "'")
        span = f"`{' '.join(typed.split()) or '?'}`"
    out = _Budget()
    out.add(MARKER, "### Agent traces", "")
    if not commits:
        out.add(f"No commits in {span}.")
        return "\n".join(out.lines) + "\n"
    if not traces:
        out.add(f"No agent traces are attached to the {_plural(len(commits), 'commit')} in {span}.")
        return "\n".join(out.lines) + "\n"
    out.add(
        f"**{_plural(len(traces), 'trace')}** on {len(with_traces)} of "
        f"{_plural(len(commits), 'commit')} in {span}.",
        "",
    )
    enriched = any("title" in t or "agent" in t for t in traces)
    if enriched:
        out.add("| Trace | Agent | Title | Commits |", "| --- | --- | --- | --- |")
    else:
        out.add("| Trace | Commits |", "| --- | --- |")

    def trace_row(trace: Mapping) -> str:
        shas = ", ".join(safe_text.code(sha, 7, ellipsis=False) for sha in trace["commits"][:10])
        if len(trace["commits"]) > 10:
            shas += f" +{len(trace['commits']) - 10}"
        if enriched:
            return (
                f"| {_link(trace)} | {_cell(trace.get('agent'), 30)} | "
                f"{_cell(trace.get('title'))} | {shas} |"
            )
        return f"| {_link(trace)} | {shas} |"

    out.rows(traces, trace_row, "traces")
    _files_table(out, report.get("files") or [], traces)
    out.add(
        "",
        "<details><summary>Commits with traces</summary>",
        "",
        "| Commit | Subject | Traces |",
        "| --- | --- | --- |",
    )

    def commit_row(commit: Mapping) -> str:
        ids = ", ".join(safe_text.code(t["id"], ID_WIDTH) for t in commit["traces"][:5])
        if len(commit["traces"]) > 5:
            ids += f" +{len(commit['traces']) - 5}"
        sha = safe_text.code(commit["sha"], 7, ellipsis=False)
        return f"| {sha} | {_cell(commit['subject'], 72)} | {ids} |"

    out.rows(with_traces, commit_row, "commits")
    out.add("", "</details>")
    return "\n".join(out.lines) + "\n"


def _files_table(out: _Budget, files: list, traces: list) -> None:
    """Lines added per file, and how many by commits with traces (counted commit by commit)."""
    if not files:
        return
    by_id = {trace["id"]: trace for trace in traces}
    # "By agents": lines an agent wrote, from refs/notes/traces-lines (docs/blame.md).
    by_agents = any(row.get("agent_added") or row.get("human_added") for row in files)
    out.add(
        "",
        "| File | Lines added | By commits with traces |"
        + (" By agents |" if by_agents else "")
        + " Removed | Traces |",
        "| --- | ---: | ---: |" + (" ---: |" if by_agents else "") + " ---: | --- |",
    )

    def file_row(row: Mapping) -> str:
        share = f" ({round(100 * row['traced_added'] / row['added'])}%)" if row["added"] else ""
        if by_agents:
            agent = int(row.get("agent_added") or 0)
            agent_share = f" ({round(100 * agent / row['added'])}%)" if row["added"] else ""
            share += f" | {agent}{agent_share}"
        links = ", ".join(_link(by_id.get(i, {"id": i})) for i in row["traces"][:5])
        if len(row["traces"]) > 5:
            links += f" +{len(row['traces']) - 5}"
        path = _cell(row["path"], 100) + (" (binary)" if row.get("binary") else "")
        return (
            f"| {path} | {row['added']} | {row['traced_added']}{share} | "
            f"{row['removed']} | {links} |"
        )

    out.rows(files, file_row, "files")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def github_outputs(report: Mapping) -> dict[str, str]:
    ids = [t["id"] for t in report["traces"]]
    # Trace IDs are [A-Za-z0-9_-]+: one space-separated line is safe as name=value.
    return {"trace-count": str(len(ids)), "trace-ids": " ".join(ids)}


def write_github_files(report: Mapping, markdown: str, env: Mapping[str, str]) -> list[str]:
    """Append the markdown to $GITHUB_STEP_SUMMARY and the outputs to $GITHUB_OUTPUT.

    Returns the files written. Each file is appended to, as GitHub expects.
    """
    written = []
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        _append(summary, markdown)
        written.append(summary)
    output = env.get("GITHUB_OUTPUT")
    if output:
        _append(output, "".join(f"{k}={v}\n" for k, v in github_outputs(report).items()))
        written.append(output)
    return written


def _append(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {reason_of(exc)}") from None
