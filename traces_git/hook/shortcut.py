"""The stamp that lets the sh dispatcher skip Python on a post-commit where nothing can match.

After a full post-commit run this module writes ``<git dir>/traces-git-post-commit.stamp``
(the per-worktree git dir, beside git's own state; never the work tree). The
dispatcher reads it with shell built-ins only and skips Python when every input of
the selection is provably what this run saw, and that run proved the store offers
nothing to a next commit (docs/attribution.md, "The sh shortcut", has the argument).

It is a POSIX sh fragment that the dispatcher sources (the shell reads a sourced
file in one block, where ``read`` takes one system call per byte: ~2 ms less per
commit). Its first line says which version it is; the dispatcher reads that line
alone first and sources nothing else. Every value is single-quoted (:func:`quote`),
so any path or variable value (spaces, quotes, newlines) is safe in it::

    # traces-git-stamp 2
    # written by traces-git after a full post-commit run; sourced by its hook dispatcher
    tg_mode=none|head        none: no store (nothing matches, whatever the parent);
                             head: no trace is active at or after HEAD's committer second
    tg_shead=<sha>           HEAD after this run
    [ "$PWD" = PATH ] || tg_ok=              the dispatcher's $PWD must be exactly this
    tg_env_is NAME VALUE || tg_ok=           the variable had this value (no VALUE: unset)
    [ PATH -ot "$tg_stamp" ] || tg_ok=       a config file: not newer than the stamp
    tg_absent PATH || tg_ok=                 must still not exist
    tg_store_same PATH || tg_ok=             the store: as a file, and PATH-wal too when not empty
    tg_end=1

The stamp's own mtime is set to the time this run started minus ``MARGIN_S``: a
file written after the run started is newer than the stamp even where ``test
-nt`` compares whole seconds, and one written just before may be newer too (then
the next commit merely takes the full path).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs milliseconds per hook run
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

STAMP = "traces-git-post-commit.stamp"
TIP = "traces-git-post-commit.tip"  # written by the sh: the last commit it skipped (mode head)
SKIPPED = "traces-git-post-commit.skipped"  # written by the sh: "<count> <sha>" since the stamp
VERSION = "2"
HEADER = (
    f"# traces-git-stamp {VERSION}\n"  # the only line the dispatcher reads before sourcing
    "# written by traces-git after a full post-commit run; sourced by its hook dispatcher"
)
MARGIN_S = 2.0

# Variables that change what the selection reads: store and config resolution, state dir,
# and which repository git points the hook at (git sets GIT_DIR in linked worktrees).
WATCHED_ENV = (
    "GIT_DIR",
    "GIT_COMMON_DIR",
    "GIT_WORK_TREE",
    "TRACES_EVENTSTORE",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
    "HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)


def stamp_path(git_dir: str) -> str:
    return os.path.join(git_dir, STAMP)


def discard(git_dir: str) -> None:
    """No shortcut for the next commit (it takes the full path and writes a new stamp)."""
    for name in (STAMP, TIP):
        try:
            os.unlink(os.path.join(git_dir, name))
        except OSError:
            pass


def config_files(repo: RepoInfo, config: Config) -> tuple[list[str], list[str]]:
    """(existing, absent) config files whose change could change what the hook reads."""
    candidates = [
        os.path.join(repo.common_dir, "config"),
        os.path.join(repo.git_dir, "config.worktree"),
    ]
    env = os.environ
    if env.get("GIT_CONFIG_GLOBAL") is not None:
        if env["GIT_CONFIG_GLOBAL"]:
            candidates.append(env["GIT_CONFIG_GLOBAL"])
    else:
        xdg = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        candidates += [
            os.path.join(xdg, "git", "config"),
            os.path.join(os.path.expanduser("~"), ".gitconfig"),
        ]
    if not env.get("GIT_CONFIG_NOSYSTEM"):
        candidates.append(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")
    candidates += getattr(config, "origins", [])  # included files
    existing: list[str] = []
    absent: list[str] = []
    for path in candidates:
        path = os.path.abspath(os.path.join(repo.worktree or repo.common_dir, path))
        if path in existing or path in absent:
            continue
        (existing if os.path.exists(path) else absent).append(path)
    return existing, absent


def store_candidates(config: Config) -> list[str]:
    """Every file whose appearance would change which store ``store.locate_path`` picks."""
    from traces_git import store

    resolved = store.locate_path(config.get("traces.store"))
    if config.get("traces.store") or os.environ.get("TRACES_EVENTSTORE"):
        return [resolved]
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    legacy = os.path.join(os.path.expanduser("~"), ".traces")
    ordered = [
        os.path.join(data_home, "traces", "traces.db"),
        os.path.join(legacy, "traces.db"),
        os.path.join(legacy, "events.db"),
    ]
    return ordered[: ordered.index(resolved) + 1] if resolved in ordered else [resolved]


def mode(store_path: str, head_time_s: int | None) -> str | None:
    """ "none" (no store: nothing for any commit), "head" (no trace in the store is active
    at or after HEAD's committer second: nothing for its children) or None."""
    if not os.path.isfile(store_path):
        return "none"
    if head_time_s is None:
        return None
    from traces_git import store

    try:
        with store.Store(store_path) as opened:
            # Any trace at all, whatever its directory: the claim then depends on no path
            # (symlinks may change); the selection's own comparison, `timestamp >= since`.
            return None if opened.active_anywhere_since(head_time_s * 1000) else "head"
    except store.StoreError:
        return None


def quote(value: str) -> str:
    """``value`` as one sh word: single-quoted, each ``'`` as ``'"'"'`` (what shlex.quote
    does, without the ``re`` import it costs the hook)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def write(
    repo: RepoInfo, config: Config, started: float, head: str, head_time_s: int | None
) -> bool:
    """Write the stamp after a full run that attached nothing; False when none may be written."""
    if repo.worktree is None:
        return False
    checks: list[str] = []
    for name in WATCHED_ENV:
        value = os.environ.get(name)
        checks.append(f"tg_env_is {name}" + ("" if value is None else f" {quote(value)}"))
    from traces_git.hook import late_attach

    watched: tuple[list[str], list[str]] = ([], [])
    if late_attach.cli_for(config):
        # Agents write session files the store has not read yet; the full run's freshness
        # check looks at them (late attach): the next commit may skip it only while none
        # of them, nor the directories new ones would appear in, changed.
        from traces_git.attribution import freshness

        sessions = freshness.watch_paths(repo.worktree, started * 1000)
        if sessions is None:
            discard(repo.git_dir)
            return False
        watched = sessions
    stores = store_candidates(config)
    kind = mode(stores[-1], head_time_s)
    if kind is None:
        discard(repo.git_dir)
        return False
    existing, absent = config_files(repo, config)
    # The directory the dispatcher runs in, as its $PWD will spell it: the selection
    # matches traces by this worktree's path, so a moved repository is a new one.
    pwd = os.environ.get("PWD", "")
    if not (os.path.isabs(pwd) and os.path.realpath(pwd) == repo.worktree):
        pwd = repo.worktree
    checks.insert(0, f'[ "$PWD" = {quote(pwd)} ]')
    checks += [f'[ {quote(p)} -ot "$tg_stamp" ]' for p in existing]
    checks += [f"tg_absent {quote(p)}" for p in [*absent, *stores[:-1]]]
    checks += [f'[ {quote(p)} -ot "$tg_stamp" ]' for p in watched[0]]  # agent sessions
    checks += [f"tg_absent {quote(p)}" for p in watched[1]]
    last = stores[-1]
    checks.append(
        f"tg_store_same {quote(last)}" if os.path.exists(last) else f"tg_absent {quote(last)}"
    )
    from traces_git import paths

    pending = paths.location("state", "sync-pending", paths.repo_key(repo.common_dir))
    checks.append(f"tg_absent {quote(pending)}")  # queued notes pushes: post-commit starts them
    lines = [HEADER, f"tg_mode={kind}", f"tg_shead={quote(head)}"]
    lines += [f"{check} || tg_ok=" for check in checks]
    lines.append("tg_end=1")
    target = stamp_path(repo.git_dir)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write("\n".join(lines) + "\n")
        then = started - MARGIN_S
        os.utime(tmp, (then, then))
        try:
            os.unlink(os.path.join(repo.git_dir, TIP))
        except OSError:
            pass
        os.replace(tmp, target)
        try:
            os.unlink(os.path.join(repo.git_dir, SKIPPED))
        except OSError:
            pass
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


def skipped_summary(git_dir: str) -> dict | None:
    """What the sh recorded for the commits it let through without Python, for status."""
    try:
        with open(os.path.join(git_dir, SKIPPED), encoding="ascii") as handle:
            fields = handle.read().split()
        when = os.stat(os.path.join(git_dir, SKIPPED)).st_mtime
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) < 2 or not fields[0].isdigit():
        return None
    return {"count": int(fields[0]), "commit": fields[1], "time": when}
