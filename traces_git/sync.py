"""Moving notes between clones (stub: filled in by the sync work)."""

from __future__ import annotations


def after_commit(repo, config) -> None:
    """Retry a queued notes push for this repository, in the background."""


def pre_push_hook(repo, config, args, stdin) -> dict:
    return {"outcome": "skipped", "record": False}


def reference_transaction_hook(repo, config, args, stdin) -> dict:
    return {"outcome": "skipped", "record": False}


def post_rewrite_hook(repo, config, args, stdin) -> dict:
    return {"outcome": "skipped", "record": False}
