"""Foreign text on its way out: to a terminal, into markdown, into JSON.

Commit subjects, trace titles and agents (from the store or the API), paths
and note contents are written by anyone. Before they are shown:

- :func:`for_terminal` drops escape sequences (CSI, OSC, ...), every other
  control character and the bidi controls (a title with ``\\x1b[2J`` cannot
  clear the screen, ``U+202E`` cannot reverse what follows); line breaks and
  tabs become spaces; undecodable bytes become U+FFFD.
- :func:`for_markdown` also backslash-escapes every ASCII punctuation mark,
  so cmark-gfm reads no HTML, emphasis, link, image, table pipe or ``http://``,
  ``https://`` and ``www.`` autolink, and puts a word joiner after ``@`` so no
  e-mail (or ``@mention``) autolink forms, and after ``#`` and ``GH-`` so GitHub
  makes no issue reference (a link, and a cross-reference in that issue). Only
  :func:`markdown_link` makes a link, and only from a URL that passes
  :func:`urls.is_url`.
- :func:`bounded` caps a JSON string field.
"""

from __future__ import annotations

import re

from traces_git.urls import is_url

ELLIPSIS = "…"
MAX_JSON_TEXT = 1000  # a subject, title or agent in JSON output, in characters
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clear screen
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks (to BEL or ST)
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS, PM, APC, SOS strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROP = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f" + _BIDI + "\ufeff\ud800-\udfff]")
_SPACES = re.compile("[\t\n\x0b\x0c\r\u2028\u2029\u0085]+")
# Every ASCII punctuation mark but "-" (never markup inside a table row; kept readable).
_PUNCTUATION = frozenset("!\"#$%&'()*+,./:;<=>?[\\]^_`{|}~")


def for_terminal(text: object, limit: int | None = None) -> str:
    """``text`` without escape sequences, controls or bidi marks; one line; at most
    ``limit`` characters (an ellipsis marks a cut)."""
    if text is None:
        return ""
    value = str(text)
    value = _ESCAPE_SEQUENCE.sub("", value)
    value = _SPACES.sub(" ", value)
    value = _DROP.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "", value)
    return truncate(value, limit)


def truncate(text: str, limit: int | None) -> str:
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 0)] + ELLIPSIS
    return text


def for_markdown(text: object, limit: int | None = None) -> str:
    """``text`` as literal characters in a markdown paragraph or table cell."""
    value = " ".join(for_terminal(text).split())
    value = truncate(value, limit)
    out = []
    for i, char in enumerate(value):
        if char == "#":
            out.append("\\#\u2060")  # GitHub links #123 and owner/repo#123 after rendering
        elif char in _PUNCTUATION:
            out.append("\\" + char)
        elif char == "@":
            out.append("\\@\u2060")  # e-mail and @mention autolinks need @ then a name
        elif (
            char == "-"
            and value[max(i - 3, 0) : i].lower().endswith("gh")
            and not (i >= 3 and value[i - 3].isalnum())
        ):
            out.append("-\u2060")  # and GH-123
        else:
            out.append(char)
    return "".join(out)


def code(text: str, limit: int | None = None, *, ellipsis: bool = True) -> str:
    """A code span of a checked token (trace ID, sha): only ``[A-Za-z0-9_-]`` stays;
    cut at ``limit`` (with an ellipsis unless ``ellipsis`` is false: a short sha)."""
    value = "".join(c for c in text if c.isascii() and (c.isalnum() or c in "_-"))
    value = truncate(value, limit) if ellipsis else value[:limit]
    return f"`{value}`"


def markdown_link(label: str, url: object) -> str:
    """``label`` (already markdown) linked to ``url`` when it passes the check, else alone."""
    if not is_url(url):
        return label
    # <...> takes any character but < > and newlines (is_url allows none); & is
    # escaped so that an entity-like run in the URL stays as written.
    return f"[{label}](<{str(url).replace('&', '&amp;')}>)"


def bounded(text: object, limit: int = MAX_JSON_TEXT) -> str | None:
    """A JSON string field: controls kept out (see :func:`for_terminal`), at most ``limit``."""
    if text is None:
        return None
    return for_terminal(text, limit)


def json_url(url: object) -> str | None:
    """A JSON ``url`` field: a URL that passes the check, or null."""
    return url if is_url(url) else None  # type: ignore[return-value]
