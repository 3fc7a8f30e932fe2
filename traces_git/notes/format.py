"""The trust boundary of the note format: what a line of ``refs/notes/traces`` means.

Every note is foreign text: teammates', forks', the official CLI's. Here it is
read and rewritten under four rules:

- Bytes in, bytes out. A note is decoded with ``surrogateescape`` (:func:`decode`)
  and encoded back the same way (:func:`encode`), so a line that is not ours
  (latin-1, NUL, CR, escape sequences) is written back byte for byte by every
  rewrite: attach, detach, merge, remap, amend/rebase.
- Lines split only at ``\\n``, as git does (``str.splitlines`` would also split
  at ``\\r``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028).
- A ``traces:`` line is a trace only when its ID passes :func:`is_trace_id`
  (``[A-Za-z0-9_-]{1,128}``) and its URL, when present, passes :func:`is_url`
  (an absolute http(s) URL of printable ASCII, no credentials). Anything else is
  kept verbatim, never read as a trace; a line that starts like ours but fails
  is ``invalid`` and counted (:func:`count_invalid`) for status and doctor.
- Every value written is checked the same way: a trace with a bad ID is not
  written, a bad URL is dropped (the ID is still written) and logged once.
"""

from __future__ import annotations

from traces_git.urls import MAX_URL_LENGTH, is_url  # noqa: F401 - part of the format

# Imported on the post-commit path: no re, dataclasses, typing or collections.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_ID_LENGTH = 128
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_BLANKS = " \t"  # what separates the fields of a line (ASCII only, never \x1c or U+3000)
_EDGES = " \t\r"  # what may surround a line of ours (CRLF notes, trailing spaces)


def decode(data: bytes) -> str:
    """A note's bytes as text that :func:`encode` turns back into the same bytes."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def split_lines(text: str) -> list[str]:
    """The lines of a note, split only at ``\\n`` (empty lines dropped, as git's union does)."""
    return [line for line in text.split("\n") if line]


def is_trace_id(value: object) -> bool:
    """IDs match ``[A-Za-z0-9_-]{1,128}``."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and all(c in _ID_CHARS for c in value)
    )


def clean_url(value: object, *, source: str = "") -> str | None:
    """``value`` when :func:`is_url`, else None (a non-empty bad value is logged once)."""
    if value is None or value == "":
        return None
    if is_url(value):
        return value  # type: ignore[return-value]
    _log_dropped(value, source)
    return None


_logged: set[str] = set()


def _log_dropped(value: object, source: str) -> None:
    from traces_git.urls import strip_credentials_in

    # Rejected for its credentials maybe: never log them.
    shown = ascii(strip_credentials_in(value) if isinstance(value, str) else value)
    if len(shown) > 200:
        shown = shown[:199] + "…"
    key = f"{source}\0{shown}"
    if key in _logged:
        return
    _logged.add(key)
    from traces_git import log

    where = f" from {source}" if source else ""
    log.write(f"dropped a URL{where} that is not an absolute http(s) URL: {shown}", context="notes")


class NoteLine:
    """One line of a note. ``kind``: trace, detach, invalid (looks like ours, fails the
    checks) or other (not ours). ``raw`` is the line exactly as it was."""

    __slots__ = ("kind", "id", "url", "raw")
    kind: str
    id: str | None
    url: str | None
    raw: str

    def __init__(self, kind: str, id: str | None, url: str | None, raw: str) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "raw", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("NoteLine is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is NoteLine and (self.kind, self.id, self.url, self.raw) == (
            other.kind,
            other.id,
            other.url,
            other.raw,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.id, self.url, self.raw))

    def __repr__(self) -> str:
        return f"NoteLine(kind={self.kind!r}, id={self.id!r}, url={self.url!r}, raw={self.raw!r})"


class TraceRef:
    """A trace as a note names it. ``line()`` writes only what passes the checks."""

    __slots__ = ("id", "url")
    id: str
    url: str | None

    def __init__(self, id: str, url: str | None = None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "url", url)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TraceRef is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is TraceRef and (self.id, self.url) == (other.id, other.url)

    def __hash__(self) -> int:
        return hash((self.id, self.url))

    def __repr__(self) -> str:
        return f"TraceRef(id={self.id!r}, url={self.url!r})"

    def line(self) -> str:
        if not is_trace_id(self.id):
            raise ValueError(f"not a trace ID: {self.id!r}")
        return f"traces:{self.id} {self.url}" if is_url(self.url) else f"traces:{self.id}"

    def as_json(self) -> dict:
        return {"id": self.id, "url": self.url if is_url(self.url) else None}


def _fields(text: str) -> list[str]:
    for blank in _BLANKS[1:]:
        text = text.replace(blank, _BLANKS[0])
    return [field for field in text.split(_BLANKS[0]) if field]


def parse_line(raw: str) -> NoteLine:
    stripped = raw.strip(_EDGES)
    if stripped.startswith("traces:"):
        kind, rest = "trace", stripped[7:]
    elif stripped.startswith("traces-detach:"):
        kind, rest = "detach", stripped[14:]
    else:
        return NoteLine("other", None, None, raw)
    fields = _fields(rest)
    if not rest[:1] or rest[0] in _BLANKS or not fields or not is_trace_id(fields[0]):
        return NoteLine("invalid", None, None, raw)
    if kind == "detach":
        ok = len(fields) == 1
        return (
            NoteLine("detach", fields[0], None, raw) if ok else NoteLine("invalid", None, None, raw)
        )
    if len(fields) == 1:
        return NoteLine("trace", fields[0], None, raw)
    if len(fields) == 2 and is_url(fields[1]):
        return NoteLine("trace", fields[0], fields[1], raw)
    return NoteLine("invalid", None, None, raw)


def parse(text: str) -> list[NoteLine]:
    """Every non-empty line of a note, in order; lines not ours come back verbatim."""
    return [parse_line(raw) for raw in split_lines(text)]


def write(lines: Iterable[NoteLine]) -> str:
    """The note text of ``lines`` (each kept as it is), ending in a newline."""
    return _join([line.raw for line in lines])


def count_invalid(text: str | None) -> int:
    """How many lines look like ours (``traces:``/``traces-detach:``) but fail the checks."""
    return sum(1 for line in parse(text or "") if line.kind == "invalid")


def attached(text: str | None) -> list[TraceRef]:
    """The traces a note attaches: de-duplicated, URL preferred, detached ones hidden."""
    if not text:
        return []
    lines = parse(text)
    detached = {line.id for line in lines if line.kind == "detach"}
    found: dict[str, TraceRef] = {}
    for line in lines:
        if line.kind != "trace" or line.id is None or line.id in detached:
            continue
        if line.id not in found or (line.url and not found[line.id].url):
            found[line.id] = TraceRef(line.id, line.url)
    return list(found.values())


def with_traces(text: str | None, refs: Iterable[TraceRef], *, source: str = "") -> str | None:
    """The note with ``refs`` added; None when nothing changes.

    A known ID gains its URL by replacing its URL-less line; a detached ID
    stays detached. A ref whose ID fails the check is not written; a URL that
    fails is dropped (logged once) and the ID written alone.
    """
    parsed = parse(text or "")
    detached = {line.id for line in parsed if line.kind == "detach"}
    changed = False
    for ref in refs:
        if not is_trace_id(ref.id):
            _log_dropped(ref.id, source or "a trace ID")
            continue
        url = clean_url(ref.url, source=source)
        if ref.id in detached:
            continue
        new = NoteLine("trace", ref.id, url, TraceRef(ref.id, url).line())
        existing = [
            i for i, line in enumerate(parsed) if line.kind == "trace" and line.id == ref.id
        ]
        if not existing:
            parsed.append(new)
            changed = True
        elif url and not any(parsed[i].url for i in existing):
            parsed[existing[0]] = new
            changed = True
    return write(parsed) if changed else None


def with_detached(text: str | None, trace_id: str) -> str | None:
    """The note with a ``traces-detach:`` line for ``trace_id``; None if already there."""
    if not is_trace_id(trace_id):
        raise ValueError(f"not a trace ID: {trace_id!r}")
    parsed = parse(text or "")
    if any(line.kind == "detach" and line.id == trace_id for line in parsed):
        return None
    return _join([line.raw for line in parsed] + [f"traces-detach:{trace_id}"])


def without_detach(text: str | None, trace_id: str) -> str | None:
    """The note with any ``traces-detach:`` line for ``trace_id`` removed (re-attach)."""
    parsed = parse(text or "")
    kept = [line.raw for line in parsed if not (line.kind == "detach" and line.id == trace_id)]
    return _join(kept) if len(kept) != len(parsed) else None


def union(*texts: str | None) -> str:
    """cat_sort_uniq as git does it: every distinct line of every note, in byte order."""
    lines = {line for text in texts if text for line in split_lines(text)}
    return _join(sorted(lines, key=encode))


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""
