"""``traces-git explain``: why a commit got the traces it got (or none).

The post-commit hook records what it considered (``explain_record``). For a
commit without a record (made before traces-git was installed, on another
machine, with ``TRACES_GIT=0``) the selection is re-run read-only against the
store as it is now, and the answer says so.
"""

from __future__ import annotations

import time

from traces_git import gitcmd, safe_text, store
from traces_git.attribution import explain_record, selection
from traces_git.config import Config
from traces_git.notes import core as notes
from traces_git.repo import RepoInfo

REASONS = {
    # kept
    "named": "named by TRACES_TRACE_ID",
    "file-overlap": "its edits overlap the commit's files",
    "not-indexed": "the committing session; the store has not indexed it yet",
    "deferred": "its data in the store may be stale: left to the late attach",
    "no-edits-recorded": "the store records no edit for it yet (trusted, like a live session)",
    "agent-records-no-edits": "its agent records no file edits: kept on directory and time",
    "copied": "copied from the cherry-picked commit's note",
    "already-present": "the note already had it",
    # dropped
    "no-store-match": "no trace in the store has this session file",
    "outside-worktree": "its directory is outside this worktree",
    "idle": "idle before the previous commit (or for more than 2 hours)",
    "no-file-overlap": "none of the files it edited is in the commit",
    "only-read": "it only read files (reads never count as edits)",
    "edited-nothing": "it edited no file",
    "no-events": "the store has its row but none of its events yet (`traces show ID` reads "
    "them; with the Traces CLI installed, traces-git refreshes after the commit)",
    "detached": "the note marks it traces-detach",
    "invalid-id": "its ID is not a trace ID (letters, digits, - and _ only)",
}
REPLAYS = {
    "rebase": "a commit replayed by a rebase: it keeps its own note through "
    "notes.rewriteRef and gets nothing new",
    "revert": "a revert: only traces named by the committing session's hints or "
    "TRACES_TRACE_ID are attached; active sessions and the store were not looked at",
    "cherry-pick": "a cherry-pick: the source commit's traces are copied, nothing else",
}


def explain(rev: str = "HEAD", cwd: str | None = None) -> dict:
    repo = RepoInfo.discover(cwd)
    base = repo.worktree or repo.common_dir
    sha = _resolve(rev, base)
    found = explain_record.read(sha, repo.common_dir)
    if found is not None:
        result = {"commit": sha, "source": "recorded", **_public(found)}
    else:
        result = {"commit": sha, "source": "re-run", **rerun(repo, sha)}
    if repo.worktree and result.get("since_ms") and not result.get("replay"):
        result["idle_before"] = idle_before(repo.worktree, Config.load(base), result)
    text = _note(base, sha)
    result["note"] = [r.as_json() for r in notes.attached(text)]
    from traces_git.sync.relink import relinked_from

    result["relinked_from"] = relinked_from(text)
    from traces_git.repo import pygit2_can_open

    if pygit2_can_open(repo.common_dir):  # line records are read with pygit2 (not sha256)
        from traces_git.lines import explain as lines_explain

        result["lines"] = lines_explain.explain_lines(repo, Config.load(base), sha)
    return result


def idle_before(worktree: str, config: Config, result: dict, limit: int = 5) -> list[dict]:
    """This worktree's store traces last active before the window began (looked up now).

    The hook does not read them (a second query on every commit); a trace that
    "should" have been attached is most often one of these.
    """
    listed = {item["id"] for item in result.get("candidates", [])}
    found = []
    try:
        with store.Store(store.locate_path(config.get("traces.store"))) as opened:
            for trace in opened.active_before(result["since_ms"]):
                if trace.id in listed or not selection.inside(trace.directory, worktree):
                    continue
                # the row's time may be the session's start (Codex): its last event's counts
                last_event_ms, _ = opened.last_event(trace.id)
                last = max(trace.timestamp_ms or 0, last_event_ms or 0)
                if last >= result["since_ms"]:
                    continue
                found.append({"id": trace.id, "agent": trace.agent_id, "last_activity_ms": last})
                if len(found) == limit:
                    break
    except store.StoreError:
        return found
    return found


def _public(entry: dict) -> dict:
    out = {k: v for k, v in entry.items() if k not in ("v", "commit", "repo")}
    out["recorded_at"] = out.pop("time", None)
    return out


def _resolve(rev: str, base: str) -> str:
    from traces_git.errors import UsageError

    code, out = gitcmd.fast(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], base)
    if code != 0:
        raise UsageError(f"not a commit: {rev}")
    return out.decode().strip()


def _note(base: str, sha: str) -> str | None:
    """The note as ``show`` reads it (with the fetched notes not merged yet)."""
    from traces_git.notes import batch as notes_batch

    return notes_batch.read_for_view(base, [sha]).get(sha)


def rerun(repo: RepoInfo, sha: str) -> dict:
    """The selection for ``sha`` now, read-only: nothing is written anywhere."""
    from traces_git.attribution.postcommit import FIRST_COMMIT_WINDOW_S
    from traces_git.attribution.postcommit import changed_files as files_of

    base = repo.worktree or repo.common_dir
    config = Config.load(base)
    lines = gitcmd.fast_out(
        ["log", "-2", "--first-parent", "--format=%H %ct %P", sha], base
    ).splitlines()
    fields = lines[0].split()
    commit_time, parents = float(fields[1]), fields[2:]
    parent_time = float(lines[1].split()[1]) if len(lines) > 1 and parents else None
    window = config.get_int("traces.firstCommitWindow", FIRST_COMMIT_WINDOW_S)
    since_s = parent_time if parent_time is not None else commit_time - window
    message = gitcmd.fast_out(["show", "-s", "--format=%B", sha], base)
    from traces_git.attribution import replay

    replayed = "revert" if replay.is_revert_message(message) else None
    caveats = [
        "no record of this commit: re-ran the selection read-only against the store as it is now",
        "the committing session's environment (TRACES_TRACE_ID and the other hints) is unknown",
        "a rebase or cherry-pick that made this commit cannot be seen afterwards",
    ]
    result: dict = {"replay": replayed, "since_ms": since_s * 1000, "caveats": caveats}
    if repo.worktree is None:
        result["candidates"] = []
        result["caveats"].append("bare repository: no worktree to match traces against")
        return result
    worktree = repo.worktree
    changed: set[str] | None = None

    def changed_files() -> set[str]:
        nonlocal changed
        if changed is None:
            changed = files_of(worktree, sha, parents)
        return changed

    ctx = selection.CommitContext(
        worktree=repo.worktree,
        git_dir=repo.git_dir,
        since_ms=since_s * 1000,
        now_ms=commit_time * 1000,
        changed_files=changed_files,
    )
    considered = selection.Considered(repo.worktree)
    path = store.locate_path(config.get("traces.store"))
    opened = None
    try:
        opened = store.Store(path)
    except store.StoreError as exc:
        result["store"] = str(exc)
    try:
        selection.pick(ctx, opened, selection.Hints(), considered, automatic=not replayed)
    except store.StoreError as exc:
        result["store"] = str(exc)
    finally:
        if opened is not None:
            opened.close()
    result["candidates"] = explain_record.with_note_state(considered.items, _note(base, sha))
    if considered.truncated:
        result["truncated"] = considered.truncated
    return result


def render(result: dict) -> str:
    lines = [f"commit {result['commit']}"]
    if result["source"] == "recorded":
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(result.get("recorded_at") or 0))
        lines.append(f"  recorded by the {result.get('hook', 'post-commit')} hook at {when}")
    else:
        for caveat in result.get("caveats", []):
            lines.append(f"  {caveat}")
    note = result.get("note") or []
    if note:
        lines.append("  in its note: " + ", ".join(t["id"] for t in note))
    else:
        lines.append("  in its note: no trace")
    if result.get("relinked_from"):
        lines.append(
            "  relinked from (same change, by `traces-git relink`): "
            + ", ".join(sha[:12] for sha in result["relinked_from"])
        )
    if result.get("opted_out"):
        lines.append(f"  traces-git was switched off for this commit ({result['opted_out']})")
    if result.get("replay"):
        lines.append(f"  {REPLAYS.get(result['replay'], result['replay'])}")
        if result.get("picked_from"):
            lines.append(f"  picked from {result['picked_from']}")
    if result.get("store"):
        lines.append(f"  store: {safe_text.for_terminal(result['store'])}")
    late = result.get("late")
    if late:
        lines.append(
            "  attached later, after refreshing the store through the official CLI: "
            + safe_text.for_terminal(str(late.get("refresh", "")))
        )
        for error in late.get("refresh_errors") or []:
            lines.append(f"      refresh problem: {safe_text.for_terminal(str(error))}")
        for reason in late.get("reasons") or []:
            lines.append(f"      why: {safe_text.for_terminal(str(reason))}")
    elif result.get("late_pending"):
        lines.append(
            "  late attach pending: the store may be stale; the commit is decided "
            "again once the official CLI refreshed it"
        )
        for reason in result["late_pending"]:
            lines.append(f"      why: {safe_text.for_terminal(str(reason))}")
    for hint in result.get("hints_ignored", []):
        value = safe_text.for_terminal(hint["value"], 200)
        lines.append(f"  ignored {hint['variable']}={value}: {hint['why']}")
    candidates = result.get("candidates") or []
    if not candidates and not result.get("replay") and not result.get("opted_out"):
        lines.append(
            "  no candidate: no hint, no active session of this worktree and no store trace "
            "active since the previous commit"
        )
    for item in sorted(candidates, key=lambda c: not c.get("kept")):
        mark = "kept   " if item.get("kept") else "dropped"
        label = safe_text.for_terminal(item["id"], 200) or "(no trace)"
        origin = item.get("source", "")
        if item.get("agent"):
            origin += f", {safe_text.for_terminal(item['agent'], 100)}"
        lines.append(f"  {mark} {label} [{origin}]: {REASONS.get(item['reason'], item['reason'])}")
        if item.get("directory"):
            lines.append(f"      directory: {safe_text.for_terminal(item['directory'])}")
        if item.get("source_path"):
            lines.append(f"      session file: {safe_text.for_terminal(item['source_path'])}")
        if item.get("read_files"):
            lines.append(f"      only read: {_list(item['read_files'])}")
        if item.get("stale"):
            lines.append(f"      stale: {safe_text.for_terminal(str(item['stale']))}")
        if "trace_files" in item:
            lines.append(f"      trace edited: {_list(item['trace_files'])}")
            lines.append(f"      commit changed: {_list(item['commit_files'])}")
        if item.get("overlap"):
            lines.append(f"      both: {_list(item['overlap'])}")
    if result.get("truncated"):
        lines.append(f"  ... and {result['truncated']} more candidate(s) not recorded")
    for item in result.get("idle_before", []):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item["last_activity_ms"] / 1000))
        agent = f", {safe_text.for_terminal(item['agent'], 100)}" if item.get("agent") else ""
        lines.append(
            f"  not a candidate: {safe_text.for_terminal(item['id'], 200)} [store{agent}]: "
            f"last active {when}, before the previous commit"
        )
    if result.get("lines"):
        from traces_git.lines import explain as lines_explain

        lines += lines_explain.render(result["lines"])
    return "\n".join(lines)


def _list(paths: list[str]) -> str:
    # Paths come from transcripts and the commit: any byte but / and NUL.
    return ", ".join(safe_text.for_terminal(p) for p in paths) if paths else "(nothing)"
