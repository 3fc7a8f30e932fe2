"""The hook entry: what ``traces-git hook NAME`` runs, and the sh shortcut's stamp.

Owns: dispatching each git hook to its work, the safety net that keeps a hook from
failing git, the stamp that lets the sh dispatcher skip Python.
May import: the base modules, attribution, notes, sync, upload (lazily: the hot path
pays for every import).
"""
