"""The second notes ref in the places that move notes between clones (CI side)."""

from __future__ import annotations

from traces_git import gitcmd
from traces_git.constants import LINES_REF
from traces_git.notes import tracking

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.notes.core import TraceRef
    from traces_git.repo import RepoInfo


def tracking_ref(remote: str) -> str:
    """Where the remote's line records land: the pattern refspec ``refs/notes/traces*``."""
    return tracking.tracking_ref(remote, LINES_REF)


def ci_texts(
    cwd: str, remote: str, *, fetch: bool, shallow: bool, shas: list[str]
) -> dict[str, str]:
    """{sha: local and remote line-record notes} for ``traces-git ci``; fetches the remote's
    records first when asked (a remote without them is not an error)."""
    from traces_git.notes import batch as notes_batch

    if fetch:
        args = gitcmd.fetch_args(
            *(["--depth=1"] if shallow else []), remote, f"+{LINES_REF}:{tracking_ref(remote)}"
        )
        gitcmd.run(args, cwd, check=False, env=gitcmd.C_LOCALE)
    refs = [LINES_REF]
    code, _ = gitcmd.fast(["rev-parse", "-q", "--verify", tracking_ref(remote)], cwd)
    if code == 0:
        refs.append(tracking_ref(remote))
    return notes_batch.read_union(cwd, refs, shas)


def remap_records(
    cwd: str,
    info: RepoInfo,
    config: Config,
    targets: list[str],
    pr_commits: list[dict],
    refs: list[TraceRef],
    remote: str,
) -> list[str]:
    """``ci remap``: re-derive the line records of the host's new commits from the pull
    request's commits' records (the same code as a local rebase or squash)."""
    from traces_git.lines import compute
    from traces_git.notes import batch as notes_batch
    from traces_git.notes import core as notes

    olds = [commit["sha"] for commit in pr_commits]
    lines_refs = [LINES_REF]
    code, _ = gitcmd.fast(["rev-parse", "-q", "--verify", tracking_ref(remote)], cwd)
    if code == 0:
        lines_refs.append(tracking_ref(remote))
    old_notes = notes_batch.read_union(cwd, lines_refs, olds)
    if not old_notes:
        return []
    old_traced = {commit["sha"]: bool(commit["traces"]) for commit in pr_commits}
    author = notes.parse_author(config.get("traces.notesAuthor"))
    written = []
    for sha in targets:
        rec, _ = compute.derive(cwd, info.worktree, sha, refs, None, olds, old_notes, old_traced)
        if rec is not None and compute.store_record(cwd, info.common_dir, sha, rec, author):
            written.append(sha)
    return written
