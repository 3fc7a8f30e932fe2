"""``traces-git ci remap``: keep a pull request's traces across a hosted squash or rebase merge.

The host's merge makes new commits without notes. We attach the union of
the PR commits' trace IDs to them and push ``refs/notes/traces`` without
force, through sync's notes transport (``sync.transfer.push_notes``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from traces_git import gitcmd
from traces_git.ci.report import (
    _fetch,
    _fetch_args,
    _shallow_commits,
    collect,
    deepen,
    is_shallow,
    read_notes,
    resolve,
    rev_list,
    tracking_ref,
)
from traces_git.errors import UsageError
from traces_git.notes import core as notes
from traces_git.sync import relink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.ci.report import Result
    from traces_git.repo import RepoInfo


def union_refs(report: Mapping) -> list[notes.TraceRef]:
    """Every trace of the range once, with a URL when any note had one."""
    return [notes.TraceRef(t["id"], t["url"]) for t in report["traces"]]


def resolve_onto(cwd: str, values: Iterable[str], remote: str, *, fetch: bool) -> list[str]:
    """Full shas for ``--onto`` values: a commit, or a range ``A..B`` (a rebase merge)."""
    shallow = is_shallow(cwd)
    result: list[str] = []
    for value in values:
        if ".." in value:
            start, _, end = value.partition("..")
            end_sha = resolve(cwd, end or "HEAD", remote, fetch=fetch, shallow=shallow)
            start_sha = resolve(cwd, start, remote, fetch=fetch, shallow=shallow)
            if fetch and shallow:
                deepen(cwd, remote, start_sha, end_sha)
            shas = rev_list(cwd, start_sha, end_sha)
            if not shas:
                raise UsageError(f"no commits in {value}")
        else:
            shas = [resolve(cwd, value, remote, fetch=fetch, shallow=shallow)]
        result += [sha for sha in shas if sha not in result]
    return result


def _parents(cwd: str, sha: str) -> list[str]:
    """A commit's parents from the object itself (a shallow clone's grafts hide them)."""
    raw = gitcmd.out(["cat-file", "commit", sha], cwd)
    header = raw.split("\n\n", 1)[0]
    return [line.split()[1] for line in header.splitlines() if line.startswith("parent ")]


def _rev_parse_ref(cwd: str, ref: str) -> str | None:
    proc = gitcmd.run(["rev-parse", "--verify", "--quiet", ref], cwd, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def _plan(
    cwd: str,
    info: RepoInfo,
    remote: str,
    result: Result,
    shas: list[str],
    refs: list[notes.TraceRef],
    *,
    fetch: bool,
) -> dict[str, relink.Match]:
    """What each merge commit gets: its content match (``relink``), else the whole union.

    A commit the matcher pairs with some of the pull request's commits (a rebase
    merge: one each) gets their traces; one it cannot pair still gets every trace
    of the pull request, since the host named it as this pull request's merge.
    """
    if fetch and is_shallow(cwd):
        boundary = [sha for sha in shas if sha in _shallow_commits(cwd)]
        if boundary:  # the matcher diffs each commit against its parent
            _fetch(cwd, _fetch_args("--deepen=1", remote, *boundary), f"parents from {remote}")
    pr_shas = [commit["sha"] for commit in result.report["commits"]]
    ref_names = [notes.NOTES_REF]
    if _rev_parse_ref(cwd, tracking_ref(remote)) is not None:
        ref_names.append(tracking_ref(remote))
    texts = read_notes(cwd, ref_names, pr_shas)
    base, head = result.report["base"], result.report["head"]
    _, matches = relink.match(
        cwd,
        info.open(),
        shas,
        texts,
        relink.tips_of(cwd, shas),
        known=[(head, base)] if base else [],
    )
    found = {m.commit: m for m in matches}
    noted = tuple(sha for sha in pr_shas if notes.attached(texts.get(sha)))
    return {
        sha: found.get(sha) or relink.Match(sha, noted, "pull request", 0.0, tuple(refs))
        for sha in shas
    }


def remap(
    cwd: str,
    onto: list[str],
    *,
    base: str | None = None,
    head: str | None = None,
    remote: str = "origin",
    fetch: bool = True,
    push: bool = True,
    env: Mapping[str, str] | None = None,
) -> dict:
    """Attach the union of ``base..head``'s traces to the ``onto`` commits and push the notes.

    ``onto`` empty: the merge commit of a merged pull_request event.
    """
    from traces_git.config import Config
    from traces_git.repo import RepoInfo
    from traces_git.sync import transfer as sync

    result = collect(cwd, base=base, head=head, remote=remote, fetch=fetch, env=env)
    cwd = result.worktree
    targets = list(onto) or list(result.spec.merge_commits)
    if not targets:
        raise UsageError("no commit to remap onto: pass --onto MERGE_COMMIT")
    shas = resolve_onto(cwd, targets, remote, fetch=fetch)
    refs = union_refs(result.report)
    summary: dict = {
        "onto": shas,
        "traces": [r.id for r in refs],
        "written": [],
        "push": None,
        "warnings": result.warnings,
        "skipped": None,
    }
    if not onto and result.report["head"] in _parents(cwd, shas[0]):
        # A true merge keeps the PR's commits (and their notes) in history.
        summary["skipped"] = "a merge commit keeps the pull request's commits and their notes"
        return summary
    if not refs:
        return summary
    info = RepoInfo.discover(cwd)
    config = Config.load(cwd)
    plan = _plan(cwd, info, remote, result, shas, refs, fetch=fetch)
    summary["matches"] = [m.as_json() for m in plan.values()]

    def relinked(match: relink.Match) -> Callable[[str | None], str | None]:
        return lambda old: relink.with_relink(old, match)

    def apply() -> None:
        changed = notes.update(
            info.open(),
            {sha: relinked(plan[sha]) for sha in shas},
            message=f"traces-git ci remap: {len(refs)} trace(s) onto "
            + ", ".join(sha[:12] for sha in shas),
            author=notes.parse_author(config.get("traces.notesAuthor")),
            lock_path=os.path.join(info.common_dir, "traces-git-notes.lock"),
        )
        summary["written"] = sorted(set(summary["written"]) | set(changed))
        from traces_git.ci import lines as lines_sync

        summary["lines_written"] = lines_sync.remap_records(
            cwd, info, config, shas, result.report["commits"], refs, remote
        )

    apply()
    if push:
        # sync's transport: fetch, merge (the result descends from the remote's notes)
        # and push without force, retrying when others push at the same time.
        outcome = sync.push_notes(info, config, remote, foreground=True)
        summary["push"] = {"via": "sync.push_notes", **outcome}
    return summary
