"""Which processes are alive: what a lock or scratch file's writer left behind is safe
to clean only when its writer is gone (pid gone, a zombie, or a later process that
reuses the pid)."""

from __future__ import annotations

import os


def proc_stat(pid: int) -> tuple[str, str, int, str] | None:
    """(comm, state, ppid, starttime) from /proc (Linux); None elsewhere or when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, fields[0], int(fields[1]), fields[19]


def writer_alive(pid: int, written_at: float) -> bool:
    """Whether the process that wrote a file at ``written_at`` may still be running:
    a process with that pid exists and (where /proc says when it started) started
    before the file was written — not a later process that reuses the pid."""
    stat = proc_stat(pid)
    if stat is None:
        if os.path.isdir("/proc"):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except (PermissionError, OverflowError):
            return True
        return True
    if stat[1] in ("Z", "X"):
        return False
    started = _boot_time() + int(stat[3]) / os.sysconf("SC_CLK_TCK")
    return started <= written_at + 1.0


def _boot_time() -> float:
    try:
        with open("/proc/stat", "rb") as handle:
            for line in handle:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def lock_held(path: str, *, create: bool = False) -> bool:
    """Whether a process holds an ``flock`` on ``path`` (a worker's liveness lock).

    ``create``: make the file when it is missing (else a missing file is "not held").
    Taking the lock to test it releases it at once. Without fcntl (Windows): False.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False
