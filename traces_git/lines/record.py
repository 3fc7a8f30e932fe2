"""Agent Trace v0.1.0 records on ``refs/notes/traces-lines``: build, serialise, parse, look up.

One record per commit, serialised as one line of compact JSON (so that
``cat_sort_uniq`` merges of two clones' notes stay valid: each line stands
alone). ``id`` and ``timestamp`` are derived from the commit and the content,
so two clones deriving the same attribution write the same line.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence

from traces_git.lines.derive import normalise
from traces_git.notes.core import is_trace_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

VERSION = "0.1.0"
META_KEY = "com.traces"  # reverse-domain vendor key (Agent Trace section 7.2)
MAX_NOTE_BYTES = 5_000_000
MAX_RANGES = 200_000
# The owner of lines carried over from a commit without traces (a squash, a rebase): the
# spec's "unknown" contributor; read back as origin "untraced". Not a valid trace ID.
UNKNOWN = "?unknown"


def content_hash(texts: Sequence[str]) -> str:
    import hashlib  # only when writing or checking a record: ~5 ms to import

    data = "\n".join(normalise(t) for t in texts).encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(data).hexdigest()


# A range as read: (start_line, end_line, trace ID | None (human) | UNKNOWN, content_hash).
# Plain tuples: blame reads thousands of them per run.
Range = tuple


class Record:
    """A parsed record: {path: [Range]} (trace None: the person's lines)."""

    __slots__ = ("revision", "files", "traces", "method", "raw", "_index")

    def __init__(
        self,
        revision: str,
        files: dict[str, list[Range]],
        traces: dict[str, dict],
        method: str,
        raw: dict,
    ):
        self.revision, self.files, self.traces, self.method, self.raw = (
            revision,
            files,
            traces,
            method,
            raw,
        )
        self._index: dict[str, tuple[list[int], list[Range]]] = {}

    def origin(self, path: str | None, line: int) -> tuple[str, str | None]:
        """("agent", trace), ("human", None) or ("untraced", None) for line ``line`` of
        ``path`` in this commit (a line in no range: the person's)."""
        index = self._index.get(path or "")
        if index is None:
            ranges = sorted(self.files.get(path or "", ()))
            index = self._index[path or ""] = ([r[0] for r in ranges], ranges)
        starts, ranges = index
        at = bisect.bisect_right(starts, line) - 1
        # ranges may overlap in a hostile record: the nearest start at or before the line
        if at >= 0 and ranges[at][1] >= line:
            trace = ranges[at][2]
            if trace == UNKNOWN:
                return "untraced", None
            return ("agent", trace) if trace else ("human", None)
        return "human", None

    def counts(self) -> dict[str, dict[str, int]]:
        """{path: {"agent": n, "human": n, "untraced": n}} over the recorded ranges."""
        result: dict[str, dict[str, int]] = {}
        for path, ranges in self.files.items():
            row = result.setdefault(path, {"agent": 0, "human": 0, "untraced": 0})
            for start, end, trace, _hash in ranges:
                kind = "untraced" if trace == UNKNOWN else "agent" if trace else "human"
                row[kind] += end - start + 1
        return result

    def agent_lines(self) -> dict[str, dict[str, list[tuple[int, int, str | None]]]]:
        """{trace: {path: [(start, end, hash)]}} of the agent ranges."""
        out: dict[str, dict[str, list]] = {}
        for path, ranges in self.files.items():
            for start, end, trace, digest in ranges:
                if trace and trace != UNKNOWN:
                    out.setdefault(trace, {}).setdefault(path, []).append((start, end, digest))
        return out


def ranges_of(
    added: Sequence[tuple[int, str]], owners: Sequence[str | None]
) -> list[tuple[int, int, str | None, list[str]]]:
    """Consecutive lines with the same owner as (start, end, owner, texts)."""
    out: list[tuple[int, int, str | None, list[str]]] = []
    for (number, text), owner in zip(added, owners, strict=True):
        if out and out[-1][2] == owner and out[-1][1] + 1 == number:
            start, _, _, texts = out[-1]
            texts.append(text)
            out[-1] = (start, number, owner, texts)
        else:
            out.append((number, number, owner, [text]))
    return out


def build(
    revision: str,
    commit_time: int,
    files: Mapping[str, tuple[Sequence, Sequence]],
    traces: Mapping[str, Mapping],
    method: str,
    tool_version: str,
) -> dict:
    """The record: ``files`` = {path: (added, owners)}; ``traces`` = {id: {url, agent, model}}
    in note order."""
    import datetime
    import hashlib
    import uuid

    out_files = []
    for path in sorted(files):
        added, owners = files[path]
        by_owner: dict[str | None, list[dict]] = {}
        for start, end, owner, texts in ranges_of(added, owners):
            by_owner.setdefault(owner, []).append(
                {"start_line": start, "end_line": end, "content_hash": content_hash(texts)}
            )
        conversations = []
        for trace_id in [t for t in traces if t in by_owner]:
            info = traces[trace_id]
            contributor = {"type": "ai"}
            if info.get("model"):
                contributor["model_id"] = str(info["model"])[:250]
            conversation: dict = {}
            if info.get("url"):
                conversation["url"] = info["url"]
            conversation["contributor"] = contributor
            conversation["ranges"] = by_owner[trace_id]
            conversation["metadata"] = {
                META_KEY: {"trace_id": trace_id, "agent": info.get("agent")}
            }
            conversations.append(conversation)
        if None in by_owner:
            conversations.append({"contributor": {"type": "human"}, "ranges": by_owner[None]})
        if UNKNOWN in by_owner:
            conversations.append({"contributor": {"type": "unknown"}, "ranges": by_owner[UNKNOWN]})
        out_files.append({"path": path, "conversations": conversations})
    when = datetime.datetime.fromtimestamp(commit_time, datetime.UTC)
    body = {
        "version": VERSION,
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "vcs": {"type": "git", "revision": revision},
        "tool": {"name": "traces-git", "version": tool_version},
        "files": out_files,
        "metadata": {META_KEY: {"traces": list(traces), "method": method}},
    }
    digest = hashlib.sha256(serialise(body).encode()).hexdigest()
    return {"id": str(uuid.UUID(digest[:32], version=5)), **body}


def serialise(record: Mapping) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def parse_note(text: str | None, revision: str) -> Record | None:
    """The record a note holds for ``revision``; None when it has no valid one.

    Lines that are not records of this revision are ignored (hostile, stale or
    another tool's). Several valid records (two clones derived differently):
    one from the transcript wins over one carried by a rewrite, then the
    highest ``id``, so every clone picks the same.
    """
    if not text or len(text) > MAX_NOTE_BYTES * 4:
        return None
    found: list[Record] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        record = parse_record(line, revision)
        if record is not None:
            found.append(record)
    if not found:
        return None
    return max(found, key=lambda r: (r.method == "transcript", str(r.raw.get("id"))))


def parse_record(line: str, revision: str | None) -> Record | None:
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or raw.get("version") != VERSION:
        return None
    vcs = raw.get("vcs")
    if not isinstance(vcs, dict) or vcs.get("type") != "git":
        return None
    sha = vcs.get("revision")
    if not isinstance(sha, str) or (revision is not None and sha.lower() != revision.lower()):
        return None
    files_raw = raw.get("files")
    if not isinstance(files_raw, list):
        return None
    files: dict[str, list[Range]] = {}
    traces: dict[str, dict] = {}
    budget = MAX_RANGES
    for entry in files_raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        conversations = entry.get("conversations")
        if not isinstance(conversations, list):
            continue
        ranges = files.setdefault(entry["path"], [])
        for conversation in conversations:
            trace_id = _trace_of(conversation)
            if trace_id is False:
                continue
            if trace_id and trace_id != UNKNOWN:
                info = traces.setdefault(trace_id, {"url": None, "agent": None, "model": None})
                info["url"] = info["url"] or _safe(
                    conversation.get("url"), _URL_CHARS, 2000, ("https://", "http://")
                )
                meta = conversation["metadata"][META_KEY]
                info["agent"] = info["agent"] or _safe(meta.get("agent"), _NAME_CHARS, 64)
                info["model"] = info["model"] or _safe(
                    conversation["contributor"].get("model_id"), _NAME_CHARS | {"/", ":"}, 250
                )
            owner = trace_id or None
            items = conversation["ranges"][:budget]
            for item in items:
                if type(item) is not dict:
                    continue
                start, end = item.get("start_line"), item.get("end_line")
                if type(start) is int and type(end) is int and 1 <= start <= end <= 10**9:
                    digest = item.get("content_hash")
                    ranges.append((start, end, owner, digest if type(digest) is str else None))
            budget -= len(items)
    meta = raw.get("metadata")
    method = ""
    if isinstance(meta, dict) and isinstance(meta.get(META_KEY), dict):
        method = _str(meta[META_KEY].get("method")) or ""
    return Record(sha.lower(), files, traces, method, raw)


def _trace_of(conversation: object) -> str | None | Literal[False]:
    """The trace ID of an ``ai`` conversation, None for a ``human`` one, False otherwise."""
    if not isinstance(conversation, dict) or not isinstance(conversation.get("ranges"), list):
        return False
    contributor = conversation.get("contributor")
    kind = contributor.get("type") if isinstance(contributor, dict) else None
    if kind == "human":
        return None
    if kind == "unknown":
        return UNKNOWN
    if kind != "ai":
        return False
    meta = conversation.get("metadata")
    ours = meta.get(META_KEY) if isinstance(meta, dict) else None
    trace_id = ours.get("trace_id") if isinstance(ours, dict) else None
    return trace_id if isinstance(trace_id, str) and is_trace_id(trace_id) else False


# What a record may put on a terminal (blame's legend, explain): no control bytes, no
# escape sequences, no markup.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_URL_CHARS = frozenset(chr(c) for c in range(33, 127)) - set('"<>\\^`{|}')


def _safe(value: object, allowed: frozenset, limit: int, prefixes: tuple = ()) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= limit or set(value) - allowed:
        return None
    return value if not prefixes or value.startswith(prefixes) else None


def safe_path(value: str) -> str:
    """A record's file path for a terminal: control characters shown as ``?``."""
    return "".join("?" if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in value)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
