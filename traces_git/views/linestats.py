"""Lines changed by commits with traces: ``traces-git stats`` and the per-file table of ``ci``.

Counted commit by commit: each non-merge commit of the range contributes its
own ``git log --numstat`` (renames followed, so lines count under the new
path). A commit "has traces" when its note attaches at least one (detached
ones do not count). A line added by one commit and rewritten by a later one
counts in both: this measures the work each commit did, not who owns the
final lines (``traces-git blame`` answers that). Merge commits are left out:
their changes come from the commits they merge. Binary files count no lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from traces_git import gitcmd, safe_text
from traces_git.constants import LINES_REF
from traces_git.errors import UsageError
from traces_git.notes import batch as notes_batch
from traces_git.notes import core as notes

FIELDS = ("added", "removed", "traced_added", "traced_removed")
# Line-level split of "added" (refs/notes/traces-lines, docs/blame.md): agent + human +
# untraced + unattributed == added; unattributed: commits with traces but no record.
LINE_FIELDS = ("agent_added", "human_added", "untraced_added", "unattributed_added")


def numstat(
    cwd: str,
    rev_args: list[str],
    on_shas: Callable[[list[str]], None] | None = None,
) -> list[tuple[str, list[tuple[str, int, int, bool]]]]:
    """[(sha, [(path, added, removed, binary)])] for the non-merge commits, oldest first.

    ``rev_args``: git log's revisions and options (checked by :mod:`traces_git.views.revargs`),
    with ``-- PATHS`` at the end when the user gave paths. ``on_shas`` gets the commits
    as git prints them, so their notes are read while git still computes diffs.
    """
    import subprocess

    args = [
        "log",
        "-z",
        "--numstat",
        "-M",
        "--no-merges",
        "--reverse",
        "--topo-order",
        "--no-show-signature",
        "--format=%x01%H",
        *rev_args,
    ]
    if "--" not in rev_args:
        args.append("--")
    proc = subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=gitcmd.clean_env({"LC_ALL": "C"}),
    )
    chunks: list[bytes] = []
    pending = b""
    seen: list[str] = []
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
        if on_shas is None:
            continue
        data = pending + chunk
        cut = data.rfind(b"\0") + 1
        pending = data[cut:]
        seen += [
            token.lstrip(b"\n")[1:].decode("ascii").strip()
            for token in data[:cut].split(b"\0")
            if token.lstrip(b"\n")[:1] == b"\x01"
        ]
        if len(seen) >= 64:
            on_shas(seen)
            seen = []
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    if proc.wait() != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        reason = (lines[0] if lines else "git log failed").removeprefix("fatal: ")
        raise UsageError(f"bad revision range {' '.join(rev_args)}: {reason}")
    tokens = b"".join(chunks).split(b"\0")
    if on_shas is not None:
        seen += [
            token.lstrip(b"\n")[1:].decode("ascii").strip()
            for token in pending.split(b"\0")
            if token.lstrip(b"\n")[:1] == b"\x01"
        ]
        if seen:
            on_shas(seen)
    commits: list[tuple[str, list[tuple[str, int, int, bool]]]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i].lstrip(b"\n")
        i += 1
        if not token:
            continue
        if token[:1] == b"\x01":
            commits.append((token[1:].decode("ascii").strip(), []))
            continue
        added, _, rest = token.partition(b"\t")
        removed, _, path = rest.partition(b"\t")
        if not path:  # a rename: "A\tD\t" then the old and the new path
            path = tokens[i + 1] if i + 1 < len(tokens) else b""
            i += 2
        binary = added == b"-" or removed == b"-"
        if commits:
            commits[-1][1].append(
                (
                    path.decode("utf-8", "replace"),
                    0 if binary else int(added),
                    0 if binary else int(removed),
                    binary,
                )
            )
    return commits


def count(
    changes: list[tuple[str, list[tuple[str, int, int, bool]]]],
    note_texts: Mapping[str, str],
    line_records: Mapping | None = None,
) -> dict:
    """Per-file and total counts, and what each trace's commits changed.

    ``line_records``: {sha: lines.record.Record} for the commits that have one.
    """
    from traces_git.lines import view as line_view

    line_counts = line_view.file_counts(line_records or {})
    files: dict[str, dict] = {}
    traces: dict[str, dict] = {}
    total = dict.fromkeys(FIELDS + LINE_FIELDS, 0)
    traced_commits = 0
    per_commit = []
    for sha, entries in changes:
        refs = notes.attached(note_texts.get(sha))
        traced_commits += bool(refs)
        per_commit.append(
            {
                "sha": sha,
                "added": sum(e[1] for e in entries),
                "removed": sum(e[2] for e in entries),
                "traces": [r.id for r in refs],
            }
        )
        for ref in refs:
            trace = traces.setdefault(
                ref.id, {"id": ref.id, "url": ref.url, "commits": [], "added": 0, "removed": 0}
            )
            trace["url"] = trace["url"] or ref.url
            trace["commits"].append(sha)
        for path, added, removed, binary in entries:
            row = files.setdefault(
                path,
                {
                    "path": path,
                    **dict.fromkeys(FIELDS + LINE_FIELDS, 0),
                    "binary": False,
                    "traces": [],
                },
            )
            for field, lines in line_view.split_added(
                added, bool(refs), line_counts.get(sha), path
            ).items():
                row[field] += lines
                total[field] += lines
            row["binary"] = row["binary"] or binary
            row["added"] += added
            row["removed"] += removed
            total["added"] += added
            total["removed"] += removed
            if refs:
                row["traced_added"] += added
                row["traced_removed"] += removed
                total["traced_added"] += added
                total["traced_removed"] += removed
                for ref in refs:
                    if ref.id not in row["traces"]:
                        row["traces"].append(ref.id)
                    traces[ref.id]["added"] += added
                    traces[ref.id]["removed"] += removed
    return {
        "commits": len(changes),
        "commits_with_traces": traced_commits,
        "changes": per_commit,
        "files": sorted(files.values(), key=lambda row: row["path"]),
        "total": total,
        "traces": list(traces.values()),
    }


def file_table(
    cwd: str,
    base: str | None,
    head: str,
    note_texts: Mapping[str, str],
    line_texts: Mapping[str, str] | None = None,
) -> list[dict]:
    """The ``files`` rows of a ``base..head`` range (``ci``'s per-file table)."""
    from traces_git.lines import view as line_view

    rev_args = [head] + ([f"^{base}"] if base else [])
    return count(numstat(cwd, rev_args), note_texts, line_view.records(line_texts or {}))["files"]


WHOLE_BRANCH = (
    "the whole branch, as git log shows it: no upstream and no default branch to compare with"
)


def default_range(cwd: str) -> tuple[str, str]:
    """(range, why): ``@{upstream}..HEAD``, else ``<default branch>..HEAD``, else ``HEAD``
    (what ``git log`` would show: the whole branch)."""
    upstream = _symbolic(cwd, "@{upstream}")
    if upstream:
        return f"{upstream}..HEAD", "the branch against its upstream"
    current = _symbolic(cwd, "HEAD")
    code, out = gitcmd.fast(["symbolic-ref", "-q", "refs/remotes/origin/HEAD"], cwd)
    candidates = [out.decode().strip()] if code == 0 and out.strip() else []
    candidates += [
        "refs/remotes/origin/main",
        "refs/remotes/origin/master",
        "refs/heads/main",
        "refs/heads/master",
    ]
    for ref in candidates:
        if ref == current:
            continue
        code, _ = gitcmd.fast(["rev-parse", "-q", "--verify", f"{ref}^{{commit}}"], cwd)
        if code == 0:
            name = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
            return f"{name}..HEAD", "the branch against the default branch"
    return "HEAD", WHOLE_BRANCH


def _symbolic(cwd: str, rev: str) -> str | None:
    code, out = gitcmd.fast(["rev-parse", "-q", "--symbolic-full-name", rev], cwd)
    text = out.decode("utf-8", "surrogateescape").strip()
    return text if code == 0 and text else None


def stats(cwd: str, git_args: Sequence[str] | None = None) -> dict:
    """The ``traces-git stats --json`` report (schema in docs/blame.md).

    ``git_args``: what ``git log`` takes (revisions, ranges, ``--all``, ``--since``,
    ``-n``, ``-- PATHS``); without a revision, the default range.
    """
    from traces_git.views import revargs

    rev = revargs.parse(list(git_args or ()), command="stats")
    code, _ = gitcmd.fast(["rev-parse", "--git-dir"], cwd)
    if code != 0:
        raise UsageError(f"not a git repository: {cwd}")
    why = "the revisions given"
    args = list(rev.args)
    if not rev.has_revision:
        chosen, why = default_range(cwd)
        args.insert(0, chosen)
    if rev.max_count is not None:  # one more, to say whether -n cut the range
        args.insert(0, f"--max-count={rev.skip + rev.max_count + 1}")
    if rev.skip:
        args.insert(0, f"--skip={rev.skip}")
    from traces_git.lines import view as line_view

    texts: dict[str, str] = {}
    line_texts: dict[str, str] = {}
    with (
        notes_batch.for_view(cwd) as reader,
        notes_batch.for_view(cwd, LINES_REF) as lines_reader,
    ):

        def read(shas: list[str]) -> None:
            texts.update(reader.read(shas))
            line_texts.update(lines_reader.read(shas))

        changes = numstat(cwd, args, read)
    truncated = rev.max_count is not None and len(changes) > rev.max_count
    if truncated:
        changes = changes[1:]  # oldest first: the extra one is the oldest
    given = list(git_args or ())
    described = " ".join(given if rev.has_revision else [chosen, *given])
    report = {
        "range": described,
        "range_reason": why,
        "truncated": truncated,
        **count(changes, texts, line_view.records(line_texts)),
    }
    for trace in report["traces"]:
        trace.update(agent=None, title=None)
    return report


def add_agents(report: dict, store_path: str | None) -> list[str]:
    """Agents and titles from the local store, then the ``agents`` rows; warnings, never raises."""
    warnings: list[str] = []
    known: dict = {}
    if report["traces"]:
        from traces_git import store

        path = store.locate_path(store_path)
        if os.path.isfile(path):
            try:
                with store.Store(path) as db:
                    known = db.get([t["id"] for t in report["traces"]])
            except Exception as exc:  # noqa: BLE001 - a broken store costs the agents only
                warnings.append(f"{exc}: agents unknown")
    for trace in report["traces"]:
        found = known.get(trace["id"])
        if found is not None:
            trace["agent"] = safe_text.bounded(found.agent_id, 100)
            trace["title"] = safe_text.bounded(found.title)
            trace["url"] = trace["url"] or safe_text.json_url(found.shared_url)
    report["agents"] = agent_rows(report)
    return warnings


def agent_rows(report: Mapping) -> list[dict]:
    """Per agent: the lines of the commits whose traces came from it (a commit with two
    agents' traces counts for both); ``agent`` null for traces the store does not know."""
    by_agent: dict[str | None, dict] = {}
    commit_counts: dict[str | None, set[str]] = {}
    for trace in report["traces"]:
        agent = trace.get("agent")
        row = by_agent.setdefault(
            agent, {"agent": agent, "commits": 0, "added": 0, "removed": 0, "traces": []}
        )
        row["traces"].append(trace["id"])
        commit_counts.setdefault(agent, set())
    # Lines per agent come from its commits, each counted once per agent.
    per_commit = {c["sha"]: (c["added"], c["removed"]) for c in report["changes"]}
    for trace in report["traces"]:
        agent = trace.get("agent")
        for sha in trace["commits"]:
            if sha in commit_counts[agent]:
                continue
            commit_counts[agent].add(sha)
            added, removed = per_commit.get(sha, (0, 0))
            by_agent[agent]["added"] += added
            by_agent[agent]["removed"] += removed
    for agent, row in by_agent.items():
        row["commits"] = len(commit_counts[agent])
    return sorted(by_agent.values(), key=lambda row: (row["agent"] is None, row["agent"] or ""))


def render(report: Mapping) -> str:
    total = report["total"]
    out = [
        f"{report['range']}: {report['commits']} commits, "
        f"{report['commits_with_traces']} with traces"
    ]
    if report.get("range_reason") == WHOLE_BRANCH:
        out[0] += f" ({WHOLE_BRANCH})"
    if report.get("truncated"):
        out[0] += " (cut by -n: older commits left out)"
    if not report["files"]:
        return out[0] + "\n"
    # A path may hold any byte but / and NUL (git log -z): shown without controls.
    files = [{**row, "path": safe_text.for_terminal(row["path"])} for row in report["files"]]
    width = max([len(row["path"]) for row in files] + [5])
    out.append("")
    # Line-level columns only where some commit of the range has a record (docs/blame.md).
    lines = bool(total.get("agent_added") or total.get("human_added"))
    extra = f"  {'by agents':>13}  {'by people':>13}" if lines else ""
    out.append(
        f"{'file'.ljust(width)}  {'added':>7}  {'traced':>13}  {'removed':>7}  "
        f"{'traced':>13}{extra}"
    )
    for row in [*files, {"path": "total", **total}]:
        extra = (
            (
                f"  {_share(row['agent_added'], row['added']):>13}  "
                f"{_share(row['human_added'], row['added']):>13}"
            )
            if lines
            else ""
        )
        out.append(
            f"{row['path'].ljust(width)}  {row['added']:>7}  "
            f"{_share(row['traced_added'], row['added']):>13}  {row['removed']:>7}  "
            f"{_share(row['traced_removed'], row['removed']):>13}{extra}"
        )
    if report.get("agents"):
        out += ["", "per agent:"]
        for row in report["agents"]:
            name = safe_text.for_terminal(row["agent"]) or "(unknown agent)"
            commits = f"{row['commits']} commit" + ("" if row["commits"] == 1 else "s")
            out.append(
                f"  {name}: {commits}, +{row['added']} -{row['removed']} "
                f"({', '.join(row['traces'])})"
            )
    return "\n".join(out) + "\n"


def _share(part: int, whole: int) -> str:
    return f"{part} ({round(100 * part / whole)}%)" if whole else f"{part}"
