"""``traces-git export --format agent-trace`` and ``traces-git lines backfill``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from traces_git import gitcmd
from traces_git.constants import LINES_REF
from traces_git.errors import UsageError
from traces_git.lines import record
from traces_git.notes import batch as notes_batch
from traces_git.notes import core as notes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo


def commits(cwd: str, revision_range: str | None) -> list[str]:
    """The commits of ``revision_range`` (default: HEAD's history), oldest first."""
    chosen = (revision_range or "HEAD").split()
    if any(word.startswith("-") for word in chosen):
        raise UsageError(f"not a revision range: {revision_range}")
    proc = gitcmd.run(
        ["rev-list", "--reverse", "--topo-order", *chosen, "--"],
        cwd,
        check=False,
        env={"LC_ALL": "C"},
    )
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = (lines[0] if lines else "git rev-list failed").removeprefix("fatal: ")
        raise UsageError(f"bad revision range {' '.join(chosen)}: {reason}")
    return proc.stdout.decode("ascii").split()


def export(cwd: str, revision_range: str | None) -> Iterator[str]:
    """Each commit's record as one line of JSON (JSON Lines), oldest commit first."""
    shas = commits(cwd, revision_range)
    texts = notes_batch.read_texts(cwd, shas, LINES_REF)
    for sha in shas:
        found = record.parse_note(texts.get(sha), sha)
        if found is not None:
            yield record.serialise(found.raw)


def backfill(
    repo: RepoInfo,
    config: Config,
    revision_range: str | None,
    *,
    force: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_commit: Callable[[str, str], None] | None = None,
) -> dict:
    """Compute the records of the range's commits with traces that have none (all with
    ``force``). Idempotent and resumable: each record is written as soon as it is computed,
    and a commit with a record is skipped the next time."""
    from traces_git.lines import worker

    cwd = repo.worktree or repo.common_dir
    shas = commits(cwd, revision_range)
    trace_notes = notes_batch.read_texts(cwd, shas)
    traced = [sha for sha in shas if notes.attached(trace_notes.get(sha))]
    existing = notes_batch.read_texts(cwd, traced, LINES_REF)
    todo = [sha for sha in traced if force or record.parse_note(existing.get(sha), sha) is None]
    summary: dict = {
        "commits": len(shas),
        "with_traces": len(traced),
        "already": len(traced) - len(todo),
        "written": [],
        "unchanged": [],
        "skipped": {},
    }
    if on_start:
        on_start(len(todo))
    if not todo:
        return summary
    session = worker.Session(repo, config)
    try:
        for sha in todo:
            outcome = session.process(sha)
            if outcome in ("written", "unchanged"):
                summary[outcome].append(sha)
            else:
                summary["skipped"][sha] = outcome
            if on_commit:
                on_commit(sha, outcome)
    finally:
        session.close()
    return summary
