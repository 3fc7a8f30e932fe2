"""``traces-git ci`` output: markdown for a PR comment or job summary, GitHub step files."""

from __future__ import annotations

import re
from collections.abc import Mapping

from traces_git.ci import reason_of
from traces_git.errors import UsageError

# A hidden marker: a workflow finds (and updates) its one PR comment by it.
MARKER = "<!-- traces-git:ci -->"
# Markdown stays well under GitHub's 65,536-character comment limit.
MARKDOWN_MAX_ROWS = 100


def _cell(text: str | None, limit: int = 80) -> str:
    """Text made safe for a markdown table cell (no HTML, no pipes, one line)."""
    if not text:
        return ""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"),
                          ("`", "'"), ("[", "\\["), ("]", "\\]")):
        text = text.replace(char, escaped)
    return text


def _link(trace: Mapping) -> str:
    url = trace.get("url") or ""
    label = f"`{trace['id']}`"
    if re.match(r"^https?://[^\s()<>\"'`]+$", url):
        return f"[{label}]({url})"
    return label


def render_markdown(report: Mapping) -> str:
    """A compact summary for a PR comment or the job summary; starts with MARKER."""
    commits = report["commits"]
    traces = report["traces"]
    with_traces = [c for c in commits if c["traces"]]
    head = report["head"][:12]
    span = f"`{report['base'][:12]}..{head}`" if report.get("base") else f"`{head}`"
    lines = [MARKER, "### Agent traces", ""]
    if not commits:
        lines.append(f"No commits in {span}.")
        return "\n".join(lines) + "\n"
    if not traces:
        lines.append(f"No agent traces are attached to the {_plural(len(commits), 'commit')} "
                     f"in {span}.")
        return "\n".join(lines) + "\n"
    lines.append(f"**{_plural(len(traces), 'trace')}** on {len(with_traces)} of "
                 f"{_plural(len(commits), 'commit')} in {span}.")
    lines.append("")
    enriched = any("title" in t or "agent" in t for t in traces)
    if enriched:
        lines += ["| Trace | Agent | Title | Commits |", "| --- | --- | --- | --- |"]
    else:
        lines += ["| Trace | Commits |", "| --- | --- |"]
    for trace in traces[:MARKDOWN_MAX_ROWS]:
        shas = ", ".join(f"`{sha[:7]}`" for sha in trace["commits"][:10])
        if len(trace["commits"]) > 10:
            shas += f" +{len(trace['commits']) - 10}"
        if enriched:
            lines.append(f"| {_link(trace)} | {_cell(trace.get('agent'), 30)} | "
                         f"{_cell(trace.get('title'))} | {shas} |")
        else:
            lines.append(f"| {_link(trace)} | {shas} |")
    if len(traces) > MARKDOWN_MAX_ROWS:
        lines.append(f"\n…and {len(traces) - MARKDOWN_MAX_ROWS} more traces.")
    lines += _files_table(report.get("files") or [], traces)
    lines += ["", "<details><summary>Commits with traces</summary>", "",
              "| Commit | Subject | Traces |", "| --- | --- | --- |"]
    for commit in with_traces[:MARKDOWN_MAX_ROWS]:
        ids = ", ".join(f"`{t['id']}`" for t in commit["traces"][:5])
        if len(commit["traces"]) > 5:
            ids += f" +{len(commit['traces']) - 5}"
        lines.append(f"| `{commit['sha'][:7]}` | {_cell(commit['subject'], 72)} | {ids} |")
    if len(with_traces) > MARKDOWN_MAX_ROWS:
        lines.append(f"\n…and {len(with_traces) - MARKDOWN_MAX_ROWS} more commits.")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _files_table(files: list, traces: list) -> list[str]:
    """Lines added per file, and how many by commits with traces (counted commit by commit)."""
    if not files:
        return []
    by_id = {trace["id"]: trace for trace in traces}
    # "By agents": lines an agent wrote, from refs/notes/traces-lines (docs/blame.md).
    by_agents = any(row.get("agent_added") or row.get("human_added") for row in files)
    lines = ["", "| File | Lines added | By commits with traces |"
             + (" By agents |" if by_agents else "") + " Removed | Traces |",
             "| --- | ---: | ---: |" + (" ---: |" if by_agents else "") + " ---: | --- |"]
    for row in files[:MARKDOWN_MAX_ROWS]:
        share = f" ({round(100 * row['traced_added'] / row['added'])}%)" if row["added"] else ""
        if by_agents:
            agent = row.get("agent_added", 0)
            agent_share = f" ({round(100 * agent / row['added'])}%)" if row["added"] else ""
            share += f" | {agent}{agent_share}"
        links = ", ".join(_link(by_id.get(i, {"id": i})) for i in row["traces"][:5])
        if len(row["traces"]) > 5:
            links += f" +{len(row['traces']) - 5}"
        path = _cell(row["path"], 100) + (" (binary)" if row.get("binary") else "")
        lines.append(f"| {path} | {row['added']} | {row['traced_added']}{share} | "
                     f"{row['removed']} | {links} |")
    if len(files) > MARKDOWN_MAX_ROWS:
        lines.append(f"\n…and {len(files) - MARKDOWN_MAX_ROWS} more files.")
    return lines


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
