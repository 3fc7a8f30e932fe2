"""Background upload of attached traces (stub: filled in by the upload work)."""

from __future__ import annotations


def hand_off(repo, config, commit: str, trace_ids: list[str]) -> None:
    """Queue ``trace_ids`` of ``commit`` for upload and start a worker if needed."""
