"""The upload worker: drains the queue into the Traces API (or the official CLI).

Runs in the detached ``python -I -m traces_git.upload.worker`` process, or in the
foreground for ``traces-git upload --now``. See ``upload`` for the hook side.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from traces_git import log, urls
from traces_git.config import Config
from traces_git.upload import auth
from traces_git.upload import queue as q
from traces_git.upload.handoff import api_url, shared_url, upload_enabled, uploader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    import httpx

    from traces_git.store import Event, Trace
    from traces_git.upload import api, redact, share_rules

# A trace named by TRACES_TRACE_ID or an active session may reach the store a
# little after the commit; after this long without it, the entry is dropped.
STORE_WAIT_S = 24 * 60 * 60
PERMANENT_HOLD_S = 24 * 60 * 60
MAX_SKIPPED_KEPT = 20


@dataclass
class Result:
    uploaded: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    waiting: list[dict] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)  # not sent: no destination, bad settings
    stopped: str | None = None  # why the run stopped early ("not logged in", an auth error...)
    busy_pid: int | None = None

    def as_json(self) -> dict:
        return {
            "uploaded": self.uploaded,
            "failed": self.failed,
            "skipped": self.skipped,
            "waiting": self.waiting,
            "held": self.held,
            "stopped": self.stopped,
            "busy_pid": self.busy_pid,
            "remaining": len(q.entries()),
        }


class _Stop(Exception):
    """Stop the whole run: no token, a rejected token, or an unreachable API."""


class Worker:
    def __init__(
        self,
        *,
        force: bool,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_group: Callable[[str], None] | None = None,
    ) -> None:
        self.force = force
        self.transport = transport
        self.sleep = sleep
        self.on_group = on_group
        self.result = Result()
        self._clients: dict[tuple[str, str], api.Client] = {}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def _client(self, base_url: str, token: auth.Token) -> api.Client:
        from traces_git.upload import api

        key = (base_url, token.value)
        if key not in self._clients:
            self._clients[key] = api.Client(
                base_url, token, transport=self.transport, sleep=self.sleep
            )
        return self._clients[key]

    # one (repository, trace) group
    def process(self, group: list[q.Entry]) -> None:
        from traces_git.errors import TracesGitError
        from traces_git.upload import api

        trace_id = group[0].trace_id
        if self.on_group:
            self.on_group(trace_id)
        try:
            self._upload(group)
        except _Stop:
            raise
        except api.AuthError as exc:
            self._failed(group, str(exc))
            q.update_status(auth_error=str(exc))
            raise _Stop(str(exc)) from None
        except api.TransientError as exc:
            hold = time.time() + exc.retry_after if exc.retry_after else 0.0
            self._failed(group, str(exc), hold_until=hold)
            raise _Stop(f"the Traces API is not answering well: {exc}") from None
        except api.PermanentError as exc:
            self._failed(group, str(exc), hold_until=time.time() + PERMANENT_HOLD_S)
        except TracesGitError as exc:
            self._failed(group, str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad trace must not stop the others
            log.write(f"uploading {trace_id} failed: {exc}", context="upload", exc=exc)
            self._failed(group, f"{type(exc).__name__}: {exc}")

    def _failed(self, group: list[q.Entry], message: str, hold_until: float = 0.0) -> None:
        trace_id = group[0].trace_id
        log.write(f"upload of {trace_id} failed: {message}", context="upload")
        for entry in group:
            entry.attempts += 1
            entry.last_error = message
            entry.hold_until = hold_until
            q.save(entry)
        self.result.failed.append({"trace": trace_id, "error": message})
        q.update_status(last_error={"time": time.time(), "trace": trace_id, "message": message})

    def _drop(self, group: list[q.Entry], reason: str, by_rule: bool = False) -> None:
        trace_id = group[0].trace_id
        log.write(f"not uploading {trace_id}: {reason}", context="upload")
        for entry in group:
            q.remove(entry)
        item = {"time": time.time(), "trace": trace_id, "reason": reason}
        self.result.skipped.append(item)
        if by_rule:
            from traces_git.upload import safety as upload_safety

            upload_safety.record_skipped_by_rule(trace_id, reason)
        else:
            skipped = (q.read_status().get("skipped") or [])[-(MAX_SKIPPED_KEPT - 1) :]
            q.update_status(skipped=[*skipped, item])
        _forget_hold(trace_id)

    def _hold(self, group: list[q.Entry], reason: str) -> None:
        """Keep the entries, send nothing, and say why in status (retried every run)."""
        trace_id = group[0].trace_id
        for entry in group:
            entry.last_error = reason
            q.save(entry)
        self.result.held.append({"trace": trace_id, "reason": reason})
        held = dict(q.read_status().get("held") or {})
        if (held.get(trace_id) or {}).get("reason") == reason:
            return  # said already: every hook run retries a hold, the log need not repeat it
        log.write(f"holding {trace_id}: {reason}", context="upload")
        held[trace_id] = {"reason": reason, "time": time.time()}
        q.update_status(held=held)

    def _upload(self, group: list[q.Entry]) -> None:
        from traces_git import store
        from traces_git.attribution import selection
        from traces_git.upload import outgoing, redact

        latest = group[-1]
        trace_id = latest.trace_id
        if not os.path.isdir(latest.common_dir):
            return self._drop(group, "the repository no longer exists")
        worktree = latest.worktree if latest.worktree and os.path.isdir(latest.worktree) else None
        config = Config.load(worktree or latest.common_dir)
        if not upload_enabled(config):
            return self._drop(group, "uploads are disabled (traces.upload false)")
        mode = uploader(config)
        base_url = api_url(config)

        # Privacy: only a trace the store shows working inside this repository.
        store_path = store.locate(config.get("traces.store"))
        trace = None
        earlier_calls: list = []
        if store_path.is_file():
            with store.Store(store_path) as opened:
                trace = opened.get([trace_id]).get(trace_id)
                progress = q.read_progress(base_url, trace_id) if mode == "api" else {}
                after = int(progress.get("last_row") or 0)
                events = list(opened.events(trace_id, after)) if trace else []
                wanted = outgoing.missing_calls(events) if after else set()
                if wanted:  # results whose call went out in an earlier run
                    earlier_calls = [e for e in opened.events(trace_id, 0) if e.row_id <= after]
        if trace is None:
            return self._wait_for_store(group)
        if worktree is None or not selection.inside(trace.directory, worktree):
            where = trace.directory or "an unknown directory"
            return self._drop(
                group, f"the trace worked in {where}, outside {latest.worktree or 'the repository'}"
            )

        token = None
        if mode == "api":
            token = auth.load(base_url)
            if token is None:
                # A rule "off" still wins without a login: drop, never wait for one.
                dest = outgoing.destination(config, trace.directory, base_url, None)
                if dest.action == "skip":
                    return self._drop(group, dest.reason, by_rule=True)
                q.update_status(auth="not logged in", auth_since=time.time())
                self.result.stopped = "not logged in"
                raise _Stop("not logged in")
        dest = outgoing.destination(config, trace.directory, base_url, token)
        if dest.action == "skip":
            return self._drop(group, dest.reason, by_rule=True)
        if mode == "traces-cli":
            from traces_git.upload import share_rules

            if dest.action == "hold" and dest.source == share_rules.SETTINGS:
                return self._hold(group, dest.reason)  # fail closed for the official CLI too
            from traces_git.upload import share_cli

            url = share_cli.share(
                trace_id, worktree, visibility(config), config.get("traces.cliPath")
            )
            sent = None
        else:
            try:
                redactor = redact.Redactor.for_config(config)
            except redact.RedactConfigError as exc:
                return self._hold(group, str(exc))
            if earlier_calls:
                outgoing.note_earlier_calls(redactor, earlier_calls, wanted)
            assert token is not None  # mode "api": without a token it dropped or stopped above
            client = self._client(base_url, token)
            if dest.action == "hold" and dest.lookup_slug:
                dest = share_rules_lookup(client, dest, config)
            if dest.action != "publish":
                return self._hold(group, dest.reason)
            try:
                url, sent = self._send(
                    config, client, trace, latest, events, progress, dest, redactor
                )
            except redact.RedactTimeout as exc:  # what was sent before it is redacted
                return self._hold(group, str(exc))
        self._write_url(config, group, url)
        for entry in group:
            q.remove(entry)
        _forget_hold(trace_id)
        done = {"trace": trace_id, "url": url, "messages": sent, "time": time.time()}
        self.result.uploaded.append(done)
        q.update_status(last_success=done, auth_error=None, auth=None)
        log.write(f"uploaded {trace_id} ({sent} new message(s)) -> {url}", context="upload")

    def _wait_for_store(self, group: list[q.Entry]) -> None:
        now = time.time()
        first = min((e.waiting_since or now) for e in group)
        if now - first > STORE_WAIT_S:
            return self._drop(group, "the trace never appeared in the local Traces store")
        for entry in group:
            entry.waiting_since = first
            entry.last_error = "not in the local Traces store yet"
            q.save(entry)
        self.result.waiting.append(
            {"trace": group[0].trace_id, "reason": "not in the local Traces store yet"}
        )

    def _send(
        self,
        config: Config,
        client: api.Client,
        trace: Trace,
        latest: q.Entry,
        events: Iterable[Event],
        progress: dict,
        dest: share_rules.Destination,
        redactor: redact.Redactor,
    ) -> tuple[str | None, int]:
        from traces_git.upload import outgoing

        base_url = api_url(config)
        chunks = outgoing.batches(events, redactor)
        model = convert_model(chunks) or progress.get("model")
        body = outgoing.trace_body(metadata(config, trace, latest, model), dest, redactor)
        server_trace = client.put_trace(trace.id, body)
        url = shared_url(config, server_trace)
        sent = 0
        for messages, last_row in chunks:
            if messages:
                client.post_messages(trace.id, messages)
                sent += len(messages)
            # Progress after every batch: a killed worker resends at most one batch.
            progress.update(last_row=last_row, sent=int(progress.get("sent") or 0) + len(messages))
            if model:
                progress["model"] = model
            q.write_progress(base_url, trace.id, progress)
        progress.update(url=url, uploaded_at=time.time())
        q.write_progress(base_url, trace.id, progress)
        return url, sent

    def _write_url(self, config: Config, group: list[q.Entry], url: str | None) -> None:
        """Add the URL to the note line of every commit this trace was queued for."""
        if not url:
            return
        from traces_git.notes import core as notes

        trace_id = group[0].trace_id
        ref = notes.TraceRef(trace_id, url)

        def edit(old: str | None) -> str | None:
            # Only a note that still attaches the trace (not detached, not rewritten away).
            if trace_id not in {r.id for r in notes.attached(old)}:
                return None
            return notes.with_traces(old, [ref])

        commits = list(dict.fromkeys(e.commit for e in group))
        common_dir = group[-1].common_dir
        from traces_git.repo import pygit2_can_open

        if not pygit2_can_open(common_dir):  # sha256 / reftable: git's own notes code
            for commit in commits:
                notes.update_one_with_git(
                    common_dir,
                    commit,
                    edit,
                    message=f"traces-git: shared URL for {trace_id}",
                    author=notes.parse_author(config.get("traces.notesAuthor")),
                    lock_path=os.path.join(common_dir, "traces-git-notes.lock"),
                    common_dir=common_dir,
                    budget_s=30.0,  # a background worker may wait
                )
            return
        import pygit2

        notes.update(
            pygit2.Repository(common_dir),
            {commit: edit for commit in commits},
            message=f"traces-git: shared URL for {trace_id}",
            author=notes.parse_author(config.get("traces.notesAuthor")),
            lock_path=os.path.join(common_dir, "traces-git-notes.lock"),
        )


def visibility(config: Config) -> str | None:
    value = (config.get("traces.visibility") or "").strip().lower()
    if value in ("private", "public", "direct"):
        return value
    if value:
        log.write(
            f"ignoring traces.visibility={value!r} (use private, public or direct)",
            context="upload",
        )
    return None


def convert_model(chunks: Iterable[tuple[list[dict], int]]) -> str | None:
    from traces_git.upload import convert

    return convert.model_of(m for chunk, _ in chunks for m in chunk)


def share_rules_lookup(
    client: api.Client, dest: share_rules.Destination, config: Config
) -> share_rules.Destination:
    """A ``@slug`` (rule, .tracesrc, auto-share) made an id with the API's namespace list."""
    from traces_git.upload import outgoing, share_rules

    return share_rules.complete_lookup(
        dest, client.namespaces(), outgoing.chosen_visibility(config)
    )


def _forget_hold(trace_id: str) -> None:
    held = q.read_status().get("held") or {}
    if trace_id in held:
        held = dict(held)
        del held[trace_id]
        q.update_status(held=held)


def remote_url(config: Config, branch: str | None) -> str | None:
    """The URL of the branch's remote, else origin, else the first remote (as configured)."""
    names = []
    if branch:
        remote = config.get(f"branch.{branch}.remote")
        if remote and remote != ".":
            names.append(remote)
    names.append("origin")
    for name in names:
        url = config.get(f"remote.{name}.url")
        if url:
            return url
    for key in config.keys():
        if key.startswith("remote.") and key.endswith(".url"):
            return config.get(key)
    return None


def metadata(config: Config, trace: Trace, entry: q.Entry, model: str | None) -> dict:
    """The body of ``PUT /v1/traces/{id}``: the trace and its git context, no credentials."""

    worktree = entry.worktree or ""
    body = {
        "agentId": trace.agent_id,
        "title": trace.title,
        "projectPath": worktree or None,
        "projectName": os.path.basename(worktree) if worktree else None,
        "model": model,
        "visibility": visibility(config),
        "gitRemoteUrl": urls.strip_credentials(remote_url(config, entry.branch)),
        "gitBranch": entry.branch,
        "gitRef": entry.commit,
    }
    return {k: v for k, v in body.items() if isinstance(v, str) and v}


def drain(
    *,
    force: bool = False,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_group: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> Result:
    """Upload what the queue holds, once per entry; ``force`` ignores the entries' holds.

    Only one drain runs at a time (the worker lock). After letting the lock
    go it looks again, so an entry queued while it was finishing is not
    stranded (the hook saw the lock taken and started no worker).
    """
    worker = Worker(force=force, transport=transport, sleep=sleep, on_group=on_group)
    attempted: set[str] = set()

    def pending() -> list[q.Entry]:
        now = time.time()
        return [
            e
            for e in q.entries()
            if e.path is not None
            and e.path.name not in attempted
            and (force or e.hold_until <= now)
        ]

    try:
        while True:
            lock = q.WorkerLock()
            if not lock.acquire_soon():
                worker.result.busy_pid = q.worker_pid()
                break
            try:
                while worker.result.stopped is None:
                    items = pending()
                    if not items:
                        break
                    groups = list(q.iter_groups(items))
                    if on_start:
                        on_start(len(groups))
                    for _, group in groups:
                        attempted.update(e.path.name for e in group if e.path)
                        try:
                            worker.process(group)
                        except _Stop as stop:
                            worker.result.stopped = worker.result.stopped or str(stop)
                            break
            finally:
                lock.release()
            if worker.result.stopped is not None or not pending():
                break
    finally:
        worker.close()
    return worker.result


def main() -> int:
    """The detached worker: ``python -I -m traces_git.upload.worker`` (started by the hooks)."""
    try:
        result = drain(force=False)
        if result.stopped:
            log.write(f"upload worker stopped: {result.stopped}", context="upload")
    except Exception as exc:  # noqa: BLE001 - a background process has nobody to tell
        log.write(f"upload worker failed: {exc}", context="upload", exc=exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
