"""Run git. Every git subprocess traces-git starts goes through here.

Git runs hooks with variables such as ``GIT_DIR`` and ``GIT_INDEX_FILE`` set
(even relative ones); a child git that works on another repository, or that
outlives the hook, must not inherit them.
"""

from __future__ import annotations

import os

from traces_git.errors import GitError

TYPE_CHECKING = False  # typing and collections cost milliseconds per hook run
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence
    from typing import IO

# Variables that tie a git process to one repository/worktree/index.
_REPO_BOUND_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
    "TRACES_GIT_HOOK_GIT_DIR",  # our dispatcher's hint, only for the hook process itself
    "TRACES_GIT_COMMIT",  # the dispatcher's post-commit commit, likewise
)


# Set by :func:`bind_repository`: the repository every git child of this process means.
_BOUND: dict[str, str] = {}


def bind_repository(git_dir: str, worktree: str | None) -> None:
    """Point every later git child at this repository (absolute GIT_DIR, GIT_WORK_TREE).

    For the layouts git finds only through the environment it gave us (``GIT_DIR`` and
    ``GIT_WORK_TREE``, ``git --git-dir --work-tree``, ``core.worktree``): there a git
    started in the work tree without them finds another repository, or none.
    """
    _BOUND.clear()
    _BOUND["GIT_DIR"] = git_dir
    if worktree is not None:
        _BOUND["GIT_WORK_TREE"] = worktree


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without the variables that bind git to a repository
    (but for the repository :func:`bind_repository` named, if any)."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_BOUND_VARS}
    if _BOUND:
        env.update(_BOUND)
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in ``cwd`` with a clean environment; raise GitError on failure."""
    import subprocess

    full_env = clean_env(env)
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            env=full_env,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0] if args else ''} timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = message[-1] if message else f"exit code {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {reason}")
    return proc


def out(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> str:
    """Run git and return its stdout as text without the trailing newline."""
    proc = run(args, cwd, input=input, check=check, env=env, timeout=timeout)
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def fast(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> tuple[int, bytes]:
    """Run git for the hook hot path: (exit code, stdout); stderr is discarded.

    ``subprocess`` and what it imports cost ~10 ms per hook run, more than the
    git call itself; ``os.posix_spawnp`` needs nothing beyond ``os``. ``stdin``
    is written before stdout is read: only for commands that answer after
    reading all of it, with little output (``fast-import``).
    """
    if not hasattr(os, "posix_spawnp"):  # Windows
        proc = run(args, cwd, check=False, env=env, input=stdin)
        return proc.returncode, proc.stdout
    return start(args, cwd, env, stdin).wait()


class Started:
    """A git process :func:`start` began; :meth:`wait` reads its stdout and reaps it."""

    __slots__ = ("pid", "_out", "_result")

    def __init__(self, pid: int, out: int):
        self.pid = pid
        self._out = out
        self._result: tuple[int, bytes] | None = None

    def wait(self) -> tuple[int, bytes]:
        """(exit code, stdout); the same answer on every call."""
        if self._result is None:
            chunks = []
            try:
                while chunk := os.read(self._out, 1 << 16):
                    chunks.append(chunk)
            finally:
                os.close(self._out)
                _, status = os.waitpid(self.pid, 0)
            self._result = (os.waitstatus_to_exitcode(status), b"".join(chunks))
        return self._result


class _Deferred(Started):
    """A :class:`Started` whose git runs only when waited for (no ``posix_spawnp``)."""

    __slots__ = ("_call",)

    def __init__(
        self,
        args: Sequence[str],
        cwd: str | os.PathLike[str] | None,
        env: Mapping[str, str] | None,
        stdin: bytes | None,
    ):
        self._call = (args, cwd, env, stdin)
        self._result = None

    def wait(self) -> tuple[int, bytes]:
        if self._result is None:
            self._result = fast(*self._call)
        return self._result


def start(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> Started:
    """Start git as :func:`fast` runs it, without waiting: reads that do not depend on
    each other then run side by side (the post-commit hook starts three at once).
    (Without ``posix_spawnp``, as on Windows, the command runs when waited for.)"""
    if not hasattr(os, "posix_spawnp"):
        return _Deferred(args, cwd, env, stdin)
    pid, in_write, read_end, _ = _spawn(args, cwd, env, stdin=stdin is not None)
    if in_write is not None and stdin is not None:
        try:
            view = memoryview(stdin)
            while view:
                view = view[os.write(in_write, view) :]
        except OSError:
            pass  # the child exited early: its exit code tells
        finally:
            os.close(in_write)
    return Started(pid, read_end)


def _spawn(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    *,
    stdin: bool = False,
    stderr: bool = False,
) -> tuple[int, int | None, int, int | None]:
    """``git ARGS`` by ``posix_spawnp``: (pid, stdin's write end or None, stdout's read
    end, stderr's read end or None); what is not piped goes to /dev/null. The one place
    :func:`start` and :func:`piped` start git (no subprocess import: ~7 ms)."""
    argv = ["git", *(["-C", os.fspath(cwd)] if cwd is not None else []), *args]
    devnull = os.open(os.devnull, os.O_RDWR)
    out_read, out_write = os.pipe()  # close-on-exec; dup2 makes the child's copy inheritable
    in_read, in_write = os.pipe() if stdin else (devnull, None)
    err_read, err_write = os.pipe() if stderr else (None, devnull)
    try:
        pid = os.posix_spawnp(
            "git",
            argv,
            clean_env(env),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, in_read, 0),
                (os.POSIX_SPAWN_DUP2, out_write, 1),
                (os.POSIX_SPAWN_DUP2, err_write, 2),
            ],
        )
    except OSError as exc:
        for fd in (out_read, in_write, err_read):
            if fd is not None:
                os.close(fd)
        raise GitError(f"cannot run git: {exc}") from exc
    finally:
        os.close(out_write)
        os.close(devnull)
        if in_write is not None:
            os.close(in_read)
        if err_read is not None:
            os.close(err_write)
    return pid, in_write, out_read, err_read


def fast_out(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """:func:`fast` that raises GitError on failure; stdout as text, last newline dropped."""
    code, stdout = fast(args, cwd, env)
    if code != 0:
        raise GitError(f"git {' '.join(args[:2])} failed with exit code {code}")
    return stdout.decode("utf-8", "surrogateescape").rstrip("\n")


class Piped:
    """A git process with pipes, like ``subprocess.Popen`` (``stdin``, ``stdout``,
    ``stderr`` binary file objects or None; ``poll``, ``kill``, ``wait``), started with
    ``os.posix_spawnp``: the views that talk to ``git cat-file --batch`` and stream
    ``git log`` skip importing subprocess (~7 ms)."""

    __slots__ = ("pid", "stdin", "stdout", "stderr", "returncode")

    def __init__(
        self,
        pid: int,
        stdin: IO[bytes] | None,
        stdout: IO[bytes] | None,
        stderr: IO[bytes] | None,
    ):
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, 9)  # SIGKILL on every POSIX system (the signal module: ~3 ms)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def piped(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    stdin: bool = False,
    stderr: bool = False,
    env: Mapping[str, str] | None = None,
) -> Piped:
    """Start ``git ARGS`` with stdout (and ``stdin``/``stderr`` if asked) as pipes; the
    others go to /dev/null. Without ``posix_spawnp`` (Windows): ``subprocess.Popen``."""
    if not hasattr(os, "posix_spawnp"):
        import subprocess

        # A Popen has all of Piped's interface (Piped copies it), though not its class.
        return subprocess.Popen(  # type: ignore[return-value]
            ["git", *args],
            cwd=cwd,
            env=clean_env(env),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr else subprocess.DEVNULL,
        )
    pid, in_write, out_read, err_read = _spawn(args, cwd, env, stdin=stdin, stderr=stderr)
    return Piped(
        pid,
        os.fdopen(in_write, "wb") if in_write is not None else None,
        os.fdopen(out_read, "rb"),
        os.fdopen(err_read, "rb") if err_read is not None else None,
    )


_C_ESCAPES = {
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
    ord('"'): 34,
    ord("\\"): 92,
}


def unquote_path(raw: bytes) -> str:
    """A path as git prints it: C-quoted (``"na\\303\\257ve"``) when it has special bytes."""
    if not (raw[:1] == b'"' and raw[-1:] == b'"' and len(raw) >= 2):
        return raw.decode("utf-8", "replace")
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char == 92 and i + 1 < len(body):  # backslash
            following = body[i + 1]
            if 48 <= following <= 55 and i + 3 < len(body) + 1:
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_C_ESCAPES.get(following, following))
            i += 2
            continue
        out.append(char)
        i += 1
    return out.decode("utf-8", "replace")


C_LOCALE = {"LC_ALL": "C"}  # git's messages in English, for the checks that read them


def fetch_args(*extra: str) -> list[str]:
    """A quiet ``git fetch`` that moves only what it names: no tags, no submodules, and
    --no-prune (never drop a tracking ref, or via fetch.prune anything else)."""
    return ["fetch", "--no-tags", "--no-prune", "--no-recurse-submodules", "--quiet", *extra]
