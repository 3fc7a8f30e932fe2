"""Names shared by every part of traces-git: defined here once, imported everywhere.

This module imports nothing, so the hook's hot path may import it for free.
"""

from __future__ import annotations

#: The notes ref that carries trace IDs (the official Traces CLI's ref).
NOTES_REF = "refs/notes/traces"
#: Line-level attribution records (Agent Trace, one JSON object per line; docs/blame.md).
LINES_REF = "refs/notes/traces-lines"
#: Set in the environment of every git traces-git starts itself: our hooks then stand aside.
GUARD_ENV = "TRACES_GIT_SYNC"
#: The production Traces API (``TRACES_HTTP_URL`` and ``traces.apiUrl`` override it).
PRODUCTION_API_URL = "https://actions.traces.com"
