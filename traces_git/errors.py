"""The one error family every user-facing failure goes through.

    TracesGitError          a failure with a one-line reason for the user
    ├── GitError            a git command failed
    ├── StoreError          the Traces store cannot be read
    ├── NotesError          refs/notes/traces cannot be read or written
    └── UsageError          the user asked for something that cannot be done

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``.
"""

from __future__ import annotations


class TracesGitError(Exception):
    exit_code = 1


class GitError(TracesGitError):
    pass


class StoreError(TracesGitError):
    pass


class NotesError(TracesGitError):
    pass


class UsageError(TracesGitError):
    exit_code = 2


class NotesBusy(NotesError):
    """A note could not be written within its time budget (a lock, a broken ref): the
    hook queues it (``traces_git.notes.pending``) rather than block git."""
