"""``traces-git ci``: the traces behind a pull request, from a shallow CI checkout.

CI checkouts are shallow and carry no notes. This module works out the commit
range (flags, or the GitHub event file), fetches ``refs/notes/traces`` into a
tracking ref (never pruning, never over local notes), deepens the clone just
enough to walk ``base..head``, and builds a report: JSON for scripts, markdown
for a PR comment or the job summary (``ci_output``), with titles from the
API when configured (``ci_api``). ``ci_remap`` carries a pull request's
traces over to the commit(s) a hosted squash or rebase merge created.

Never ``git notes prune`` here: in a shallow clone it drops the notes of
commits that are merely absent.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from traces_git import gitcmd, safe_text
from traces_git.errors import GitError, UsageError
from traces_git.notes import core as notes
from traces_git.sync.transfer import tracking_ref
from traces_git.urls import strip_credentials_in

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

    import pygit2

    from traces_git.views.revargs import RevArgs

ZERO_SHA = re.compile(r"^0+$")
FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")

# git's messages are matched in English.
C_LOCALE = gitcmd.C_LOCALE
# Walking base..head: first deepen by this many commits (or the event's commit
# count), doubling each round; after MAX_DEEPEN_ROUNDS fetch the whole history.
FIRST_DEEPEN = 16
MAX_DEEPEN_ROUNDS = 8


# --- the range ----------------------------------------------------------------


@dataclass
class RangeSpec:
    """The commits to report, before they are resolved against the clone.

    ``base`` None means "from the root" (the first push of a repository).
    ``deleted`` marks a push that deleted a branch: nothing to report.
    """

    base: str | None
    head: str
    source: str  # "flags", "pull_request", "push", "merge_group"
    deleted: bool = False
    commit_hint: int | None = None  # how many commits the event says the range has
    merge_commits: list[str] = field(default_factory=list)  # pull_request.merge_commit_sha


def load_event(path: str) -> dict:
    """The GitHub event payload; a one-line UsageError when it is missing or malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except FileNotFoundError:
        raise UsageError(f"GitHub event file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"GitHub event file is not valid JSON: {path} (line {exc.lineno} column {exc.colno})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read GitHub event file {path}: {reason_of(exc)}") from None
    if not isinstance(payload, dict):
        raise UsageError(f"GitHub event file is not a JSON object: {path}")
    return payload


def _sha_at(payload: Mapping, dotted: str, path: str) -> str:
    value: object = payload
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    if not isinstance(value, str) or not FULL_SHA.match(value.lower()):
        raise UsageError(f"GitHub event file has no commit at {dotted}: {path}")
    return value.lower()


def range_from_event(
    payload: Mapping, path: str, default_branch_sha: Callable[[str], str | None]
) -> RangeSpec:
    """pull_request: base.sha..head.sha (GITHUB_SHA is a synthetic merge commit);
    push: before..after; merge_group: base_sha..head_sha.

    ``default_branch_sha(branch)`` answers the tip of the default branch on the
    remote, used as the base of a push that created a branch (``before`` is zeros).
    """
    if isinstance(payload.get("pull_request"), Mapping):
        pr = payload["pull_request"]
        hint = pr.get("commits") if isinstance(pr.get("commits"), int) else None
        merged = []
        merge_sha = pr.get("merge_commit_sha")
        if pr.get("merged") and isinstance(merge_sha, str) and FULL_SHA.match(merge_sha.lower()):
            merged = [merge_sha.lower()]
        return RangeSpec(
            _sha_at(payload, "pull_request.base.sha", path),
            _sha_at(payload, "pull_request.head.sha", path),
            "pull_request",
            commit_hint=hint,
            merge_commits=merged,
        )
    if isinstance(payload.get("merge_group"), Mapping):
        return RangeSpec(
            _sha_at(payload, "merge_group.base_sha", path),
            _sha_at(payload, "merge_group.head_sha", path),
            "merge_group",
        )
    if "before" in payload and "after" in payload:
        before = _sha_at(payload, "before", path)
        after = _sha_at(payload, "after", path)
        commits = payload.get("commits")
        hint = len(commits) if isinstance(commits, list) and commits else None
        if ZERO_SHA.match(after) or payload.get("deleted"):
            return RangeSpec(None, after, "push", deleted=True)
        if ZERO_SHA.match(before):
            # A new branch: report what it adds to the default branch; the
            # first push of the default branch itself reports from the root.
            base = None
            repository = payload.get("repository")
            default = repository.get("default_branch") if isinstance(repository, Mapping) else None
            pushed = payload.get("ref")
            if isinstance(default, str) and default and pushed != f"refs/heads/{default}":
                base = default_branch_sha(default)
            return RangeSpec(base, after, "push", commit_hint=hint)
        return RangeSpec(before, after, "push", commit_hint=hint)
    raise NoRangeInEvent(
        f"GitHub event file has no pull_request or push range: {path} (pass --base and --head)"
    )


class NoRangeInEvent(UsageError):
    """The event (workflow_dispatch, schedule, ...) names no commits: the flags must."""


def resolve_spec(
    cwd: str,
    remote: str,
    *,
    base: str | None,
    head: str | None,
    env: Mapping[str, str],
    fetch: bool,
) -> RangeSpec:
    """The range from the flags, else from ``$GITHUB_EVENT_PATH``; flags win one by one."""
    event_path = env.get("GITHUB_EVENT_PATH")
    if base is not None and head is not None or not event_path:
        if base is None:
            raise UsageError(
                "no range to report: pass --base (and --head), or run in GitHub Actions"
            )
        return RangeSpec(base, head or "HEAD", "flags")

    def default_branch_sha(branch: str) -> str | None:
        # The remote's tip when we may ask it; offline, our tracking ref's idea of it.
        if fetch:
            return _remote_branch_sha(cwd, remote, branch)
        return _rev_parse(cwd, f"refs/remotes/{remote}/{branch}")

    try:
        spec = range_from_event(load_event(event_path), event_path, default_branch_sha)
    except NoRangeInEvent:
        if base is None:
            raise
        return RangeSpec(base, head or "HEAD", "flags")
    if base is not None:
        spec.base, spec.source = base, "flags"
    if head is not None:
        spec.head, spec.source, spec.deleted = head, "flags", False
    return spec


def _remote_branch_sha(cwd: str, remote: str, branch: str) -> str | None:
    proc = gitcmd.run(["ls-remote", "--heads", remote, f"refs/heads/{branch}"], cwd, check=False)
    first = proc.stdout.decode("utf-8", "replace").split()
    return first[0].lower() if proc.returncode == 0 and first and FULL_SHA.match(first[0]) else None


# --- making the clone deep enough -------------------------------------------


def _rev_parse(cwd: str, rev: str) -> str | None:
    proc = gitcmd.run(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        cwd,
        check=False,
    )
    return proc.stdout.decode().strip().lower() if proc.returncode == 0 else None


def is_shallow(cwd: str) -> bool:
    return gitcmd.out(["rev-parse", "--is-shallow-repository"], cwd) == "true"


def _shallow_commits(cwd: str) -> set[str]:
    path = gitcmd.out(["rev-parse", "--git-path", "shallow"], cwd)
    try:
        with open(os.path.join(cwd, path), encoding="ascii") as handle:
            return {line.strip() for line in handle if line.strip()}
    except FileNotFoundError:
        return set()


def _fetch_args(*extra: str) -> list[str]:
    return gitcmd.fetch_args(*extra)


def _fetch(cwd: str, args: list[str], what: str) -> None:
    proc = gitcmd.run(args, cwd, check=False, env=C_LOCALE)
    if proc.returncode != 0:
        raise GitError(f"cannot fetch {what}: {git_reason(proc.stderr)}")


def git_reason(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines or ["git failed"])[0]
    return strip_credentials_in(reason)


def resolve(cwd: str, rev: str, remote: str, *, fetch: bool, shallow: bool) -> str:
    """A full commit sha for ``rev``; fetched (one commit deep in a shallow clone) when missing."""
    sha = _rev_parse(cwd, rev)
    if sha is not None:
        return sha
    if not FULL_SHA.match(rev.lower()):
        raise UsageError(f"not a commit: {rev}")
    if not fetch:
        raise UsageError(f"commit {rev[:12]} is not in this clone (run without --no-fetch)")
    _fetch(
        cwd,
        _fetch_args(*(["--depth=1"] if shallow else []), remote, rev.lower()),
        f"commit {rev[:12]} from {remote}",
    )
    sha = _rev_parse(cwd, rev)
    if sha is None:
        raise UsageError(f"not a commit: {rev}")
    return sha


def range_complete(cwd: str, base: str | None, head: str) -> bool:
    """True when ``base..head`` can be walked exactly in this (maybe shallow) clone.

    Incomplete while a commit in the range is a shallow boundary (its parents
    are cut off: more of the branch may lie behind it), or while base and head
    have no merge base yet (base's side is cut off above the fork point, so
    its ancestors would show up as part of the range).
    """
    shallow = _shallow_commits(cwd)
    if not shallow:
        return True
    if any(sha in shallow for sha in rev_list(cwd, base, head)):
        return False
    if base is None:
        return True
    return gitcmd.run(["merge-base", base, head], cwd, check=False).returncode == 0


def deepen(cwd: str, remote: str, base: str | None, head: str, *, hint: int | None = None) -> int:
    """Deepen the shallow clone until ``base..head`` is complete; returns fetch rounds used."""
    wants = [sha for sha in (base, head) if sha]
    step = max(FIRST_DEEPEN, (hint or 0) + 1)
    rounds = 0
    while not range_complete(cwd, base, head):
        if not is_shallow(cwd):
            break
        rounds += 1
        if rounds > MAX_DEEPEN_ROUNDS:
            _fetch(cwd, _fetch_args("--unshallow", remote, *wants), f"history from {remote}")
            break
        _fetch(cwd, _fetch_args(f"--deepen={step}", remote, *wants), f"history from {remote}")
        step *= 2
    return rounds


def rev_list(cwd: str, base: str | None, head: str) -> list[str]:
    args = ["rev-list", head] + ([f"^{base}"] if base else [])
    return gitcmd.out(args + ["--"], cwd).split()


def commits_in_range(
    cwd: str, base: str | None, head: str | None, extra: list[str] | None = None
) -> list[tuple[str, str]]:
    """(sha, subject) of every commit in ``base..head``, oldest first.

    ``extra``: git log's options, revisions and ``-- PATHS`` (see :mod:`traces_git.views.revargs`).
    """
    return _finish_commits(_start_commits(cwd, base, head, extra))


def _start_commits(
    cwd: str, base: str | None, head: str | None, extra: list[str] | None
) -> subprocess.Popen[bytes]:
    """:func:`commits_in_range`'s git log, started (it runs beside ``git log --numstat``)."""
    import subprocess

    extra = list(extra or ())
    cut = extra.index("--") if "--" in extra else len(extra)
    args = [
        "log",
        "-z",
        "--topo-order",
        "--reverse",
        "--no-show-signature",
        "--format=%H%x00%s",
        *extra[:cut],
    ]
    args += [head] if head else []
    args += [f"^{base}"] if base else []
    args += extra[cut:] or ["--"]
    return subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=gitcmd.clean_env(C_LOCALE),
    )


def _finish_commits(proc: subprocess.Popen[bytes]) -> list[tuple[str, str]]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise UsageError(f"git log: {git_reason(err).removeprefix('fatal: ')}")
    fields = out.decode("utf-8", "replace").split("\0")
    result = []
    for sha, subject in zip(fields[0::2], fields[1::2], strict=False):
        sha = sha.strip()
        if sha:
            result.append((sha, subject))
    return result


# --- notes ------------------------------------------------------------------


def fetch_notes(cwd: str, remote: str, *, shallow: bool) -> bool:
    """Fetch the remote's ``refs/notes/traces`` into its tracking ref, through sync's
    transport. False when the remote has no notes ref (not an error). The tracking ref
    keeps local, unpushed notes in ``refs/notes/traces`` untouched."""
    from traces_git.repo import RepoInfo
    from traces_git.sync import transfer

    info = RepoInfo.discover(cwd)
    into = tracking_ref(remote)
    return transfer.fetch_notes(info, remote, into=into, shallow=shallow) is not None


def read_notes(cwd: str, refs: Iterable[str], shas: list[str]) -> dict[str, str]:
    """{sha: the union of its notes in every ref}, for the commits in ``shas``: one
    ``git cat-file --batch`` reading only their fanout paths (sha1 or sha256)."""
    from traces_git.notes import batch as notes_batch

    return notes_batch.read_union(cwd, list(refs), shas)


def odd_ref_warnings(repo: pygit2.Repository, refs: Iterable[str]) -> list[str]:
    """One line per notes ref that is not a readable notes commit (it is skipped)."""
    from traces_git.notes import check as notes_check

    found = []
    for ref in refs:
        problem = notes_check.ref_problem(repo, ref)
        if problem:
            found.append(f"{problem}: {'it is' if problem.whole else 'those entries are'} skipped")
    return found


# --- the report ---------------------------------------------------------------


def build_report(
    base: str | None,
    head: str | None,
    commits: list[tuple[str, str]],
    note_texts: Mapping[str, str],
) -> dict:
    """The JSON report: every commit with its traces, and every trace with its commits."""
    report_commits: list[dict] = []
    traces: dict[str, dict] = {}
    for sha, subject in commits:
        refs = notes.attached(note_texts.get(sha))
        report_commits.append(
            {
                "sha": sha,
                "subject": safe_text.bounded(subject),
                "traces": [r.as_json() for r in refs],
            }
        )
        for ref in refs:
            entry = traces.setdefault(ref.id, {"id": ref.id, "url": ref.url, "commits": []})
            if ref.url and not entry["url"]:
                entry["url"] = ref.url
            entry["commits"].append(sha)
    # A trace's URL may be known from one commit's note only: use it everywhere.
    for commit in report_commits:
        for trace in commit["traces"]:
            trace["url"] = trace["url"] or traces[trace["id"]]["url"]
    return {"base": base, "head": head, "commits": report_commits, "traces": list(traces.values())}


@dataclass
class Result:
    report: dict
    spec: RangeSpec
    warnings: list[str]
    notes_fetched: bool | None  # None: not asked to fetch
    deepen_rounds: int = 0
    worktree: str = ""


def collect(
    cwd: str,
    *,
    base: str | None = None,
    head: str | None = None,
    remote: str = "origin",
    fetch: bool = True,
    env: Mapping[str, str] | None = None,
    git_args: list[str] | None = None,
) -> Result:
    """Resolve the range, fetch what is missing, and build the (notes-only) report.

    ``git_args``: git log's revision syntax. With a revision (``main..HEAD``, ``--all``)
    they choose the commits instead of --base/--head and the event (and nothing is
    deepened); without one (``--since``, ``-- PATHS``, ``-n``) they narrow the range.
    """
    from traces_git.repo import RepoInfo
    from traces_git.views import revargs

    env = os.environ if env is None else env
    info = RepoInfo.discover(cwd)
    cwd = info.worktree or info.common_dir
    rev = revargs.parse(git_args or [], command="ci")
    if rev.has_revision:
        return _collect_revisions(cwd, rev, remote=remote, fetch=fetch)
    if fetch:
        _check_remote(cwd, remote)
    spec = resolve_spec(cwd, remote, base=base, head=head, env=env, fetch=fetch)
    if spec.deleted:
        empty: dict = {
            "base": spec.base,
            "head": spec.head,
            "commits": [],
            "traces": [],
            "files": [],
        }
        return Result(empty, spec, [], None, worktree=cwd)
    warnings: list[str] = []
    shallow = is_shallow(cwd)
    if fetch:
        # Both ends in one round trip when the clone lacks them (a PR checkout has neither).
        missing = [
            rev.lower()
            for rev in (spec.head, spec.base)
            if rev and FULL_SHA.match(rev.lower()) and _rev_parse(cwd, rev) is None
        ]
        if missing:
            _fetch(
                cwd,
                _fetch_args(*(["--depth=1"] if shallow else []), remote, *missing),
                f"{', '.join(sha[:12] for sha in missing)} from {remote}",
            )
    head_sha = resolve(cwd, spec.head, remote, fetch=fetch, shallow=shallow)
    base_sha = resolve(cwd, spec.base, remote, fetch=fetch, shallow=shallow) if spec.base else None
    rounds = 0
    if fetch and shallow:
        rounds = deepen(cwd, remote, base_sha, head_sha, hint=spec.commit_hint)
    elif shallow and not range_complete(cwd, base_sha, head_sha):
        warnings.append(
            "the clone is shallow and --no-fetch was given: the range may be incomplete"
        )
    fetched = fetch_notes(cwd, remote, shallow=is_shallow(cwd)) if fetch else None
    report, odd = _report(cwd, base_sha, head_sha, rev, remote, fetched)
    return Result(report, spec, warnings + odd, fetched, rounds, worktree=cwd)


def _collect_revisions(cwd: str, rev: RevArgs, *, remote: str, fetch: bool) -> Result:
    """``ci <revisions>``: the commits git log lists for them, in this clone as it is."""
    has_remote = gitcmd.run(["remote", "get-url", "--", remote], cwd, check=False).returncode == 0
    fetched = None
    if fetch and has_remote:
        fetched = fetch_notes(cwd, remote, shallow=is_shallow(cwd))
    spec = RangeSpec(None, rev.describe(), "revisions")
    report, odd = _report(cwd, None, None, rev, remote, fetched)
    return Result(report, spec, odd, fetched, worktree=cwd)


def _odd_refs(cwd: str, refs: list[str]) -> list[str]:
    """Warnings for notes refs that are not readable notes commits (the reader skips them)."""
    from traces_git.repo import RepoInfo, pygit2_can_open

    info = RepoInfo.discover(cwd)
    if not pygit2_can_open(info.common_dir):
        return []  # sha256: git's reader skips what is not a notes tree
    return odd_ref_warnings(info.open(), refs)


def _report(
    cwd: str, base: str | None, head: str | None, rev: RevArgs, remote: str, fetched: bool | None
) -> tuple[dict, list[str]]:
    from traces_git.notes import batch as notes_batch
    from traces_git.views import linestats

    extra = list(rev.args)
    if rev.max_count is not None:  # one more, to say whether -n cut the range
        extra.insert(0, f"--max-count={rev.skip + rev.max_count + 1}")
    if rev.skip:
        extra.insert(0, f"--skip={rev.skip}")
    refs = [notes.NOTES_REF]
    if fetched or _ref_exists(cwd, tracking_ref(remote)):
        refs.append(tracking_ref(remote))
    warnings = _odd_refs(cwd, refs)
    if rev.has_revision:
        file_args = extra
    else:
        assert head is not None  # collect() resolves a head whenever no revision was given
        file_args = [head, *([f"^{base}"] if base else []), *extra]
    texts: dict[str, str] = {}
    with notes_batch.NotesReader(cwd, refs) as reader:
        listing = _start_commits(cwd, base, head, extra)
        changes = None
        if rev.max_count is None:
            # Both git logs at once; notes read as --numstat prints its commits.
            changes = linestats.numstat(
                cwd, file_args, lambda shas: texts.update(reader.read(shas))
            )
        commits = _finish_commits(listing)
        truncated = rev.max_count is not None and len(commits) > rev.max_count
        if truncated:
            commits = commits[1:]  # oldest first: the extra one is the oldest
        texts.update(reader.read(sha for sha, _ in commits if sha not in texts))
    if changes is None:
        # The same commits as listed: the files of the commits shown, merges left out.
        listed = [sha for sha, _ in commits]
        paths = ["--", *rev.paths] if rev.paths else []
        file_args = ["--no-walk=unsorted", *listed, *paths] if listed else []
        changes = linestats.numstat(cwd, file_args) if file_args else []
    report = build_report(base, head, commits, texts)
    if rev.has_revision:
        report["revisions"] = rev.describe()
    if rev.max_count is not None:
        report["truncated"] = truncated
    from traces_git.ci import lines as lines_sync
    from traces_git.lines import view as line_view

    line_texts = lines_sync.ci_texts(
        cwd,
        remote,
        fetch=fetched is not None,
        shallow=is_shallow(cwd),
        shas=[sha for sha, _ in commits],
    )
    report["files"] = linestats.count(changes, texts, line_view.records(line_texts))["files"]
    return report, warnings


def _check_remote(cwd: str, remote: str) -> None:
    if gitcmd.run(["remote", "get-url", "--", remote], cwd, check=False).returncode != 0:
        raise UsageError(f"no remote named {remote!r} (pass --remote NAME, or --no-fetch)")


def _ref_exists(cwd: str, ref: str) -> bool:
    return gitcmd.run(["rev-parse", "--verify", "--quiet", ref], cwd, check=False).returncode == 0


def reason_of(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return strip_credentials_in(" ".join(str(text).split()))


def warn(message: str) -> None:
    print(f"traces-git: warning: {message}", file=sys.stderr)
