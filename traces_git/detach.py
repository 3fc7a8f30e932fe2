"""Start a detached process: the one way traces-git launches its background workers.

The child gets its own session (it outlives the hook's process group and is not
killed with the terminal), no inherited pipes (git waits for a hook's stdout to
close), and the environment it is given. On POSIX ``os.posix_spawn`` spares the
hook the ~5-10 ms that importing ``subprocess`` costs; the child then keeps the
caller's working directory, so workers take absolute paths.
"""

from __future__ import annotations

import os
import sys

_CREATE_BREAKAWAY_FROM_JOB = 0x01000000


def spawn(argv: list[str], env: dict[str, str], *, cwd: str, output: str | None = None) -> int:
    """Start ``argv`` detached; stdout and stderr append to ``output`` (else /dev/null).

    Returns the child's pid. Raises ``OSError`` when it cannot be started.
    """
    out_fd = (
        os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if output
        else os.open(os.devnull, os.O_WRONLY)
    )
    try:
        if hasattr(os, "posix_spawn"):
            devnull = os.open(os.devnull, os.O_RDONLY)
            try:
                return os.posix_spawn(
                    argv[0] if os.path.isabs(argv[0]) else sys.executable,
                    argv,
                    env,
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, devnull, 0),
                        (os.POSIX_SPAWN_DUP2, out_fd, 1),
                        (os.POSIX_SPAWN_DUP2, out_fd, 2),
                    ],
                    setsid=True,
                )
            finally:
                os.close(devnull)
        return _popen(argv, env, cwd, out_fd)
    finally:
        os.close(out_fd)


def _popen(argv: list[str], env: dict[str, str], cwd: str, out_fd: int) -> int:
    import subprocess

    flags = 0
    if sys.platform == "win32":  # pragma: no cover - not tested here: no Windows
        flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        flags |= _CREATE_BREAKAWAY_FROM_JOB
    for attempt in (1, 2):
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_fd,
                stderr=out_fd,
                close_fds=True,
                start_new_session=sys.platform != "win32",
                creationflags=flags,
            )
            return proc.pid
        except OSError:
            if sys.platform != "win32" or attempt == 2:
                raise
            flags &= ~_CREATE_BREAKAWAY_FROM_JOB  # the job object denied breakaway
    raise AssertionError("unreachable")
