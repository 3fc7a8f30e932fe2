"""Which traces belong to a commit: selection, the post-commit attach, replays, explain.

Owns: the decision (candidates, file overlap, env hints, replays) and its record.
May import: the base modules, notes, sync (to queue a push after a write).
"""
