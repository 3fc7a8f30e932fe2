"""Moving notes between clones: push after every push, merge on every fetch.

- ``pre-push`` queues a notes push and starts a detached worker
  (``pushqueue``) that pushes ``refs/notes/traces`` once the user's push is
  done. The user's push itself is never changed: no ``remote.<name>.push``,
  no extra refspec, our exit code is ignored.
- A user's fetch brings the remote's notes into the tracking ref
  ``refs/notes/remotes/<remote>/traces`` through the fetch refspec; the first
  hook after it merges that ref into ``refs/notes/traces`` (``fetched``).
- Rewrites need no Python: ``notes.rewriteRef`` and
  ``notes.rewriteMode=cat_sort_uniq`` (see ``sync_config``) carry notes over
  amend and rebase; cherry-pick is handled by post-commit.

Every git we start carries ``TRACES_GIT_SYNC=1`` and our own push uses
``--no-verify``: our hooks stand aside for our own fetches and pushes, so
nothing recurses. We never run ``git notes prune``.
"""

from __future__ import annotations

import os

from traces_git.constants import GUARD_ENV, LINES_REF, NOTES_REF
from traces_git.notes import tracking

# Imports are deferred: this module is loaded by every post-commit, where the
# nothing-queued path must cost no more than a directory listing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from traces_git.config import Config
    from traces_git.repo import RepoInfo

# Every notes ref we move between clones, through the same code (the official refspec
# pattern refs/notes/traces* covers both).
SYNCED_REFS = (NOTES_REF, LINES_REF)
ZERO_SHA = frozenset({"0" * 40, "0" * 64})
_RETRYABLE = ("fetch first", "non-fast-forward", "stale info", "cannot lock ref")


# --- configuration (see sync_config) ----------------------------------------------


def ensure_configured(repo: RepoInfo, config: Config) -> bool:
    """Add the notes fetch refspec per remote and notes.rewriteRef/Mode; True if changed."""
    from traces_git.sync import config as sync_config

    return sync_config.ensure_configured(repo, config)


def unconfigure(repo: RepoInfo) -> bool:
    """Remove exactly what ``ensure_configured`` added; True if something was removed."""
    from traces_git.sync import config as sync_config

    return sync_config.unconfigure(repo)


def configured_repos() -> list[str]:
    """Common git dirs whose config ``ensure_configured`` changed (for a global uninstall)."""
    from traces_git.sync import config as sync_config

    return sync_config.configured_repos()


def remotes(config: Config) -> list[str]:
    from traces_git.sync import config as sync_config

    return sync_config.remotes(config)


tracking_ref = tracking.tracking_ref


def known_ref(remote: str, ref: str = NOTES_REF) -> str:
    """Where our own background fetches and pushes record the remote's notes.

    Never the tracking ref: a ``git fetch`` checks the old value of every ref
    it updates, so moving the tracking ref while the user fetches would fail
    the user's fetch ("cannot lock ref ... but expected ...").
    """
    return f"refs/traces-git/remotes/{remote}/{ref.removeprefix('refs/notes/')}"


def refspec(remote: str) -> str:
    return f"+{NOTES_REF}*:refs/notes/remotes/{remote}/traces*"


def push_enabled(config: Config, remote: str) -> bool:
    """``traces.push`` and ``remote.<name>.tracesPush`` (both default true)."""
    return config.get_bool("traces.push", True) and config.get_bool(
        f"remote.{remote}.tracesPush", True
    )


def _guarded() -> bool:
    return bool(os.environ.get(GUARD_ENV))


def _cwd(repo: RepoInfo) -> str:
    return repo.worktree or repo.common_dir


def _git_env(background: bool) -> dict[str, str]:
    env = {GUARD_ENV: "1", "LC_ALL": "C"}
    if background:
        env["GIT_TERMINAL_PROMPT"] = "0"  # nobody is there to answer
    return env


def _last_line(data: bytes, fallback: str) -> str:
    lines = [
        line.strip()
        for line in data.decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith("hint:")
    ]
    if not lines:
        return fallback
    from traces_git import urls

    # git mostly hides credentials itself; make sure none reach our log or status.
    return urls.strip_credentials_in(lines[-1])


def _lock_path(repo: RepoInfo) -> str:
    return os.path.join(repo.common_dir, "traces-git-notes.lock")


# --- hooks ----------------------------------------------------------------------


def after_pull(repo: RepoInfo, config: Config, reflog_action: str) -> bool:
    """After a ``git pull`` (post-merge): fetch notes the pull did not fetch, in the background.

    Git uses the configured fetch refspecs (ours included) only when a fetch
    or pull names no refspec: ``git pull origin main`` fetches main alone. And
    the first pull in a clone made before any of our hooks ran had no refspec
    of ours yet (``config`` is the snapshot from before ``ensure_configured``).
    Returns True when a notes fetch was started.
    """
    words = reflog_action.split()
    if words[:1] != ["pull"]:
        return False
    names = remotes(config)
    remote, explicit = None, False
    for index, word in enumerate(words[1:], start=1):
        if word in names:
            remote = word
            explicit = any(not w.startswith("-") for w in words[index + 1 :])
            break
    if remote is None:
        remote = _upstream_remote(repo, config)
    if remote is None:
        return False
    if refspec(remote) not in config.get_all(f"remote.{remote}.fetch"):
        from traces_git.config import Config as _Config

        fresh = _Config.load(_cwd(repo))  # was it configured just now, by this hook run?
        if refspec(remote) not in fresh.get_all(f"remote.{remote}.fetch"):
            return False  # the user does not fetch our notes from this remote
    elif not explicit:
        return False  # the pull's own fetch brought them (post-merge merged them)
    from traces_git.sync import pushqueue

    pushqueue.spawn(_cwd(repo), remote, fetch_only=True)
    return True


def _upstream_remote(repo: RepoInfo, config: Config) -> str | None:
    try:
        with open(os.path.join(repo.git_dir, "HEAD"), encoding="utf-8") as handle:
            head = handle.read().strip()
    except OSError:
        return None
    if not head.startswith("ref: refs/heads/"):
        return None
    branch = head[len("ref: refs/heads/") :]
    return config.get(f"branch.{branch}.remote") or (
        "origin" if "origin" in remotes(config) else None
    )


def post_checkout_hook(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    """Right after ``git clone`` (old HEAD is the null sha): fetch the notes too.

    ``hooks.run`` has just added our fetch refspec (the clone had none).
    """
    if _guarded() or not args or args[0] not in ZERO_SHA:
        return {"outcome": "skipped", "record": False}
    from traces_git.sync import pushqueue

    started = []
    for remote in remotes(config):
        pushqueue.spawn(_cwd(repo), remote, fetch_only=True)
        started.append(remote)
    return {
        "outcome": "ok" if started else "skipped",
        "record": bool(started),
        "detail": f"fetching notes from {', '.join(started)}",
    }


def _parse_push_lines(stdin: bytes) -> list[tuple[str, str, str, str]]:
    lines = []
    for raw in stdin.decode("utf-8", "surrogateescape").splitlines():
        fields = raw.split()
        if len(fields) == 4:
            lines.append((fields[0], fields[1], fields[2], fields[3]))
    return lines


def pre_push_hook(
    repo: RepoInfo,
    config: Config,
    args: list[str],
    stdin: bytes,
    *,
    before_push: Callable[[RepoInfo, Config, list[str]], object] | None = None,
) -> dict:
    """Queue a push of our notes to the same remote, made after this push (in the background)."""
    import time

    from traces_git.sync import pushqueue
    from traces_git.sync.config import is_mirror

    if _guarded():
        return {"outcome": "skipped", "record": False}
    remote = args[0] if args else ""
    if remote not in remotes(config):
        return {"outcome": "skipped", "detail": "push to a URL, not a named remote"}
    if not push_enabled(config, remote):
        return {"outcome": "skipped", "detail": f"notes push to {remote} disabled"}
    lines = _parse_push_lines(stdin)
    sent = [
        (local_sha, remote_ref, old)
        for _lref, local_sha, remote_ref, old in lines
        if local_sha not in ZERO_SHA
    ]
    if not sent:
        return {"outcome": "skipped", "record": False}  # up to date, or only deletes
    if before_push is not None:  # e.g. a late attach about to write a pushed commit's note
        before_push(repo, config, [sha for sha, _ref, _old in sent])
    if is_mirror(config, remote) or any(
        remote_ref.startswith("refs/notes/") for _sha, remote_ref, _old in sent
    ):
        return {"outcome": "skipped", "detail": "the push sends notes itself (mirror or explicit)"}
    names = [
        name
        for ref in SYNCED_REFS
        for name in (ref, tracking_ref(remote, ref), known_ref(remote, ref))
    ]
    refs = _ref_values(repo, names)
    local = refs.get(NOTES_REF) or refs.get(LINES_REF)
    on_remote = all(
        refs.get(ref)
        in (None, refs.get(tracking_ref(remote, ref)), refs.get(known_ref(remote, ref)))
        for ref in SYNCED_REFS
    )
    queued = pushqueue.read_entry(repo.common_dir, remote)
    if local is None or (on_remote and not (queued and queued.get("retry"))):
        return {"outcome": "skipped", "record": False}  # no notes, or the remote has ours
    trigger = {
        **pushqueue.git_push_process(),
        "id": f"{os.getpid()}-{time.time_ns()}",
        "refs": [[remote_ref, sha, old] for sha, remote_ref, old in sent],
        "time": time.time(),
    }
    pushqueue.enqueue(repo.common_dir, remote, trigger=trigger)
    # Always start a worker: one that is already running may be past its last look
    # at the queue; a second one waits for the lock and finds little to do.
    pushqueue.spawn(_cwd(repo), remote)
    return {"outcome": "ok", "detail": f"notes push to {remote} queued", "remote": remote}


def _ref_values(repo: RepoInfo, refs: list[str]) -> dict[str, str]:
    from traces_git import gitcmd

    args = ["for-each-ref", "--format=%(refname) %(objectname)", *refs]
    _, stdout = gitcmd.fast(args, _cwd(repo))
    values = {}
    for line in stdout.decode("utf-8", "replace").splitlines():
        name, _, oid = line.partition(" ")
        if name in refs:
            values[name] = oid
    return values


# --- fetch, merge, push ------------------------------------------------------------


def merge_tracking(
    repo: RepoInfo, config: Config, remote: str, oid: str | None = None, ref: str = NOTES_REF
) -> dict:
    """Merge ``refs/notes/remotes/<remote>/traces`` (or ``oid``) into ``refs/notes/traces``
    (or the same for ``ref``)."""
    from traces_git.notes import core as notes
    from traces_git.repo import pygit2_can_open

    if not pygit2_can_open(repo.common_dir):  # sha256 / reftable: git's own merge
        from traces_git.notes import git as notes_git

        oid = oid or notes_git.ref_value(_cwd(repo), tracking_ref(remote, ref))
        if oid is None:
            return {"result": "none", "changed": 0}
        return notes_git.merge(
            _cwd(repo),
            oid,
            message=f"traces-git: merge notes from {remote}",
            author=notes.parse_author(config.get("traces.notesAuthor")),
            lock_path=_lock_path(repo),
            ref=ref,
        )
    pyrepo = repo.open()
    if oid is None:
        reference = pyrepo.references.get(tracking_ref(remote, ref))
        if reference is None:
            return {"result": "none", "changed": 0}
        oid = str(reference.target)
    from traces_git.notes import check as notes_check

    problem = notes_check.object_problem(pyrepo, oid, f"{remote}'s {NOTES_REF}")
    if problem:
        from traces_git.errors import NotesError

        raise NotesError(f"{problem}: not merged (local notes unchanged)")
    return notes.merge_from(
        pyrepo,
        oid,
        message=f"traces-git: merge notes from {remote}",
        author=notes.parse_author(config.get("traces.notesAuthor")),
        ref=ref,
        lock_path=_lock_path(repo),
    )


def fetch_notes(
    repo: RepoInfo,
    remote: str,
    *,
    background: bool = False,
    ref: str = NOTES_REF,
    into: str | None = None,
    shallow: bool = False,
) -> str | None:
    """Fetch the remote's notes into ``known_ref`` (or ``into``); their oid, or None if the
    remote has none.

    ``--refmap=`` keeps git from also moving the tracking ref (see ``known_ref``).
    ``--no-filter``: a partial clone (CI's ``filter: tree:0`` or ``blob:none``) would
    leave the notes trees or blobs behind, and pygit2 cannot fetch them later.
    ``shallow``: one notes commit is enough in a shallow clone (its tree lists every note).
    """
    from traces_git import gitcmd
    from traces_git.errors import GitError

    proc = gitcmd.run(
        [
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            "--no-auto-maintenance",
            "--no-prune",
            "--no-filter",
            *(["--depth=1"] if shallow else []),
            "--refmap=",
            remote,
            f"+{ref}:{into or known_ref(remote, ref)}",
        ],
        _cwd(repo),
        check=False,
        env=_git_env(background),
        timeout=600,
    )
    if proc.returncode != 0:
        if b"couldn't find remote ref" in proc.stderr:
            return None
        raise GitError(
            f"fetching notes from {remote} failed: "
            f"{_last_line(proc.stderr, f'exit code {proc.returncode}')}"
        )
    target = into or known_ref(remote, ref)
    return _ref_values(repo, [target]).get(target)


def _push_once(
    repo: RepoInfo, remote: str, background: bool, ref: str = NOTES_REF
) -> tuple[str, str]:
    """("ok" | "rejected" | "error", detail) for one push of our notes ref, without force.

    Pushed to the remote's push URL rather than its name, so that git does not
    move the tracking ref (see ``known_ref``).
    """
    from traces_git import gitcmd

    url = gitcmd.run(["remote", "get-url", "--push", remote], _cwd(repo), check=False)
    target = url.stdout.decode("utf-8", "surrogateescape").strip() if url.returncode == 0 else ""
    proc = gitcmd.run(
        [
            "push",
            "--no-verify",
            "--porcelain",
            "--recurse-submodules=no",
            target or remote,
            f"{ref}:{ref}",
        ],
        _cwd(repo),
        check=False,
        env=_git_env(background),
        timeout=600,
    )
    status = None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[1].endswith(f":{ref}"):
            status = (fields[0], fields[2])
    if proc.returncode == 0:
        return "ok", status[1] if status else ""
    if status and status[0] == "!":
        summary = status[1]
        if "remote rejected" not in summary and any(key in summary for key in _RETRYABLE):
            return "rejected", summary
        return "error", summary
    return "error", _last_line(proc.stderr, f"exit code {proc.returncode}")


def transfer(
    repo: RepoInfo,
    config: Config,
    remote: str,
    *,
    fetch_first: bool = True,
    attempts: int = 5,
    background: bool = False,
) -> dict:
    """:func:`transfer_ref` for ``refs/notes/traces``, then for the line records (their
    outcome under ``"lines"``; a remote without them is fine)."""
    result = transfer_ref(
        repo, config, remote, fetch_first=fetch_first, attempts=attempts, background=background
    )
    from traces_git.errors import GitError

    try:
        lines = transfer_ref(
            repo,
            config,
            remote,
            fetch_first=fetch_first,
            attempts=attempts,
            background=background,
            ref=LINES_REF,
        )
    except GitError as exc:  # the trace notes went through: say so, and log this one
        from traces_git import log

        log.write(f"line records: {exc}", context=repo.display)
        result["lines"] = {"outcome": "error", "error": str(exc)}
    else:
        result["lines"] = {k: v for k, v in lines.items() if k in ("outcome", "pushed", "merged")}
    return result


def transfer_ref(
    repo: RepoInfo,
    config: Config,
    remote: str,
    *,
    fetch_first: bool = True,
    attempts: int = 5,
    background: bool = False,
    ref: str = NOTES_REF,
) -> dict:
    """Fetch, merge and push notes for ``remote`` until the push is accepted.

    Without force: a rejected push fetches the remote's notes, merges them
    (the merge descends from the remote's notes, so the next push is a
    fast-forward) and tries again after a growing, jittered pause.
    Raises GitError with a one-line reason when it cannot finish.
    """
    import random
    import time

    from traces_git.errors import GitError, NotesError
    from traces_git.sync import pushqueue

    result: dict = {
        "remote": remote,
        "fetched": False,
        "remote_had_notes": None,
        "merged": 0,
        "pushed": 0,
        "outcome": "",
    }
    pushing = push_enabled(config, remote)
    try:
        for attempt in range(attempts):
            if fetch_first or attempt > 0 or not pushing:
                remote_oid = fetch_notes(repo, remote, background=background, ref=ref)
                result["fetched"] = True
                result["remote_had_notes"] = remote_oid is not None
                if remote_oid is not None:
                    result["merged"] += merge_tracking(repo, config, remote, remote_oid, ref=ref)[
                        "changed"
                    ]
            if not pushing:
                result["outcome"] = "push disabled"
                break
            local_oid = _ref_values(repo, [ref]).get(ref)
            if local_oid is None:
                result["outcome"] = "no notes"
                break
            ahead = unpushed(repo, remote, ref)
            if not ahead:  # every local note is on the remote already
                result["outcome"] = "up to date"
                break
            state, detail = _push_once(repo, remote, background, ref)
            if state == "ok":
                _set_known(repo, remote, local_oid, ref)
                result.update(outcome="pushed", pushed=len(ahead), commit=local_oid)
                break
            if state == "error":
                raise GitError(f"pushing notes to {remote} failed: {detail}")
            if attempt + 1 < attempts:
                time.sleep(min(0.25 * 2**attempt, 4.0) * random.uniform(0.5, 1.5))
        else:
            raise GitError(
                f"pushing notes to {remote} was still rejected after {attempts} "
                "attempts (others kept pushing notes)"
            )
    except (GitError, NotesError) as exc:
        if ref == NOTES_REF:
            pushqueue.record_result(
                repo.common_dir, remote, {"outcome": "error", "error": str(exc)}
            )
        raise
    if ref == NOTES_REF:
        pushqueue.record_result(
            repo.common_dir,
            remote,
            {k: v for k, v in result.items() if k in ("outcome", "pushed", "merged")},
        )
    return result


def unpushed(repo: RepoInfo, remote: str, ref: str = NOTES_REF) -> list[str]:
    """Shas whose local note the remote lacks, as far as we know (tracking and known refs)."""
    from traces_git.repo import pygit2_can_open

    if not pygit2_can_open(repo.common_dir):
        from traces_git.notes import git as notes_git

        result = set(notes_git.unpushed(_cwd(repo), tracking_ref(remote, ref), ref))
        if result and notes_git.ref_value(_cwd(repo), known_ref(remote, ref)) is not None:
            result &= set(notes_git.unpushed(_cwd(repo), known_ref(remote, ref), ref))
        return sorted(result)
    from traces_git.notes import core as notes

    pyrepo = repo.open()
    result = set(notes.unpushed(pyrepo, tracking_ref(remote, ref), ref))
    if result and pyrepo.references.get(known_ref(remote, ref)) is not None:
        result &= set(notes.unpushed(pyrepo, known_ref(remote, ref), ref))
    return sorted(result)


def _unpushed_count(repo: RepoInfo, remote: str) -> int | None:
    try:
        return len(unpushed(repo, remote))
    except Exception:  # noqa: BLE001 - status must show what it can
        return None


def _set_known(repo: RepoInfo, remote: str, oid: str, ref: str = NOTES_REF) -> None:
    """Record what the remote now has (no hook runs for it: our bookkeeping)."""
    from traces_git.notes import git as notes_git

    notes_git.set_ref(_cwd(repo), known_ref(remote, ref), oid)


def push_notes(repo: RepoInfo, config: Config, remote: str, *, foreground: bool = True) -> dict:
    """Fetch, merge and push ``refs/notes/traces`` to ``remote``.

    ``foreground``: now, in this process; raises TracesGitError (one-line
    reason) on final failure and leaves the push queued for a retry.
    Otherwise queue it and start the detached worker.
    """
    from traces_git.errors import GitError, NotesError, UsageError
    from traces_git.sync import pushqueue

    if remote not in remotes(config):
        raise UsageError(f"no remote named {remote!r}")
    if not foreground:
        pushqueue.enqueue(repo.common_dir, remote, retry=True)
        pushqueue.spawn(_cwd(repo), remote)
        return {"remote": remote, "outcome": "queued"}
    try:
        result = transfer(repo, config, remote, fetch_first=True, attempts=5)
    except (GitError, NotesError) as exc:
        if push_enabled(config, remote):
            pushqueue.settle(repo.common_dir, remote, None, [], str(exc))
        raise
    if pushqueue.read_entry(repo.common_dir, remote) is not None:
        pushqueue.settle(repo.common_dir, remote, None, [], None)
    return result


def status_section(repo: RepoInfo | None, config: Config) -> dict:
    """For ``traces-git status``: per remote, unpushed notes, queued pushes, last error."""
    from traces_git.sync import pushqueue

    section: dict = {"summary": "", "remotes": {}, "queued": [], "last_error": None}
    if repo is None:  # not in a repository
        section["summary"] = "not in a repository"
        return section
    names = remotes(config)
    queue = {entry["remote"]: entry for entry in pushqueue.entries(repo.common_dir)}
    last = pushqueue.last_results(repo.common_dir)
    for name in names:
        entry = queue.get(name)
        info: dict = {
            "push": push_enabled(config, name),
            "fetch_configured": refspec(name) in config.get_all(f"remote.{name}.fetch"),
            "unpushed": _unpushed_count(repo, name),
            "queued": bool(entry),
            "last_error": (entry or {}).get("last_error"),
        }
        if name in last:
            info["last_push"] = last[name]
        section["remotes"][name] = info
        if entry:
            section["queued"].append(name)
    section["last_error"] = next(
        (info["last_error"] for info in section["remotes"].values() if info["last_error"]), None
    )
    parts = []
    for name, info in section["remotes"].items():
        if not info["push"]:
            state = "push disabled"
        elif info["unpushed"]:
            state = f"{info['unpushed']} unpushed note(s)" + (", queued" if info["queued"] else "")
        else:
            state = "up to date"
        parts.append(f"{name} {state}")
    section["summary"] = "; ".join(parts) if parts else "no remotes"
    return section
