"""Line-level attribution: which of a commit's added lines an agent's tool calls wrote.

The records live in ``refs/notes/traces-lines`` (see docs/blame.md): one Agent
Trace v0.1.0 record per commit, one JSON object per line, computed by a detached
worker after the post-commit note is written, never in the hook's foreground.

Owns: deriving the records (derive, diff, compute), their format (record), the worker
and its queue, and reading them for the views (view, explain, export).
May import: the base modules, notes, attribution (the edit-tool table), sync.
"""
