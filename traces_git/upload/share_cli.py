"""``traces.uploader = traces-cli``: let the official Traces CLI share the trace.

Runs ``traces share --trace-id ID --json`` (its own login, store and API).
Its JSON answer decides, not only the exit code: ``{"ok": true, "data":
{"sharedUrl": ...}}`` on stdout, or ``{"ok": false, "error": {"code",
"message"}}`` (0.6.31 prints that one on stderr and exits 1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from traces_git import gitcmd, safe_text

TIMEOUT_S = 300


def find_cli(configured: str | None = None) -> str | None:
    """``traces.cliPath`` when set, else ``traces`` on PATH."""
    if configured:
        path = os.path.expanduser(configured)
        return path if os.access(path, os.X_OK) else None
    return shutil.which("traces")


def _last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def share(
    trace_id: str, cwd: str, visibility: str | None = None, cli_path: str | None = None
) -> str | None:
    """Share one trace with the official CLI; returns its shared URL."""
    from traces_git.upload import api

    exe = find_cli(cli_path)
    if exe is None:
        raise api.PermanentError(
            "traces.uploader is traces-cli but the `traces` CLI was not found "
            "(put it on PATH or set traces.cliPath)"
        )
    args = [exe, "share", "--trace-id", trace_id, "--json"]
    if visibility:
        args += ["--visibility", visibility]
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=gitcmd.clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise api.TransientError(f"`traces share` did not finish in {TIMEOUT_S} s") from None
    except OSError as exc:
        raise api.PermanentError(f"cannot run {exe}: {exc}") from None
    # Success JSON comes on stdout; failure JSON on stderr with exit code 1 (0.6.31).
    answer = _last_json(proc.stdout.decode("utf-8", "replace")) or _last_json(
        proc.stderr.decode("utf-8", "replace")
    )
    if answer is None:
        raise api.TransientError(f"`traces share` exited {proc.returncode} without a JSON answer")
    if answer.get("ok") is True:
        from traces_git.notes.format import clean_url

        data = answer.get("data")
        # The CLI relays the server's answer: a URL that fails the check is not shown in
        # status nor written anywhere (the note writer checks it again).
        return clean_url(
            data.get("sharedUrl") if isinstance(data, dict) else None,
            source="the traces CLI's answer",
        )
    error = answer.get("error")
    if not isinstance(error, dict):
        error = {}
    code = safe_text.for_terminal(error.get("code") or "error", 100)
    message = safe_text.for_terminal(error.get("message") or "", 300)
    if code in ("AUTH_REQUIRED", "UNAUTHORIZED", "FORBIDDEN"):
        raise api.AuthError(f"traces CLI: {code}: {message}", code=code)
    raise api.TransientError(f"traces CLI: {code}: {message}", code=code)
