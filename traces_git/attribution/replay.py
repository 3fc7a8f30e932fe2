"""Git replays: commits that re-apply earlier work rather than record new work.

While a rebase, cherry-pick or revert is in progress, and for a commit whose
message is git's standard revert text, the official Traces hook attaches
nothing. traces-git: a rebase's replayed commits keep their notes through
``notes.rewriteRef`` and get nothing new; a commit the user makes at a stop of
an interactive rebase (``edit``, ``break``, a conflict) is new work and is
attributed as usual; a cherry-pick copies its source commit's note; a revert
gets only what the committing session's hints or ``TRACES_TRACE_ID`` name.
"""

from __future__ import annotations

import os

REVERT_SUBJECT = 'Revert "'
_REVERT_BODY = "\n\nThis reverts commit "


def rebase_state(git_dir: str) -> str | None:
    """``"replaying"`` while a rebase applies commits, ``"stopped"`` at a stop, else None.

    The merge backend keeps ``rebase-merge/stopped-sha`` only while it waits
    for the user (an ``edit`` or ``break`` line, a conflict); its own picks run
    without it. The apply backend (``rebase-apply``, also ``git am``) has no
    such stop for new work.
    """
    merge_dir = os.path.join(git_dir, "rebase-merge")
    if os.path.isdir(merge_dir):
        return "stopped" if os.path.exists(os.path.join(merge_dir, "stopped-sha")) else "replaying"
    if os.path.isdir(os.path.join(git_dir, "rebase-apply")):
        return "replaying"
    return None


def revert_in_progress(git_dir: str) -> bool:
    return os.path.exists(os.path.join(git_dir, "REVERT_HEAD"))


def is_revert_message(message: str) -> bool:
    """Git's own ``Revert "<subject>"`` + ``This reverts commit <sha>.`` text."""
    text = message.strip()
    if not text[: len(REVERT_SUBJECT)].lower() == REVERT_SUBJECT.lower():
        return False
    first, _, rest = text.partition("\n")
    if len(first) <= len(REVERT_SUBJECT) + 1 or not first.endswith('"'):
        return False
    body = "\n" + rest
    if not body.lower().startswith(_REVERT_BODY.lower()):
        return False
    sha, dot, _ = body[len(_REVERT_BODY) :].partition(".")
    return bool(dot) and bool(sha) and all(c in "0123456789abcdefABCDEF" for c in sha)


def head_sha(git_dir: str) -> str | None:
    """HEAD's sha when it is detached (as during a rebase), read without git."""
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="ascii") as handle:
            value = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value if len(value) in (40, 64) and not value.startswith("ref:") else None
