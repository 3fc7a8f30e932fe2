"""The redaction pass: every string of a trace goes through it on its way to the API.

It never touches the store; the upload worker and ``traces-git upload --dry-run``
apply it to the request bodies they build (``outgoing``), so what a dry run
shows is what is sent.

Three layers, in this order for each string:

1. the user's own patterns (``git config --add traces.redact REGEX``, Python
   syntax), so they see the raw text they wrote them against;
2. the official Traces CLI 0.6.31's pattern list, same order and same
   replacements (read from its binary), so nothing it redacts is sent in clear;
3. a few more: http(s) URLs with a password, GitLab tokens, quoted values of
   secret-looking keys (``"password": "..."``, ``API_KEY = '...'``) and
   ``Authorization:`` headers of any scheme.

And per tool call: when a call's arguments name a secrets file (``.env*``,
``*.pem``, ``*.key``, ``id_rsa*``, ``.npmrc``, ``.pypirc``, ``credentials*``),
the whole output of that call is replaced, whatever it contains.

Not on the hook path: only the worker and the upload command import it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from traces_git.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config

REDACTED = "[REDACTED]"
SECRETS_FILE_OUTPUT = "[REDACTED: output of a tool that read a secrets file]"

# (pattern, replacement, literals): the pattern runs only on a string holding one
# of ``literals`` (a substring test is a fast C scan; most strings hold none).
# The first block mirrors the official CLI, in its order.
# (pattern or None for a hand-written pass, flags, replacement or pass name, literals)
_Row = tuple[str | None, int, str, tuple[str, ...]]
_OFFICIAL: list[_Row] = [
    (r"AKIA[0-9A-Z]{16}", 0, REDACTED, ("AKIA",)),
    (r"gh[pousr]_[A-Za-z0-9]{36,}", 0, REDACTED, ("gh",)),
    (r"github_pat_[A-Za-z0-9_]{20,}", 0, REDACTED, ("github_pat_",)),
    (r"sk_(?:live|test)_[A-Za-z0-9]{24,}", 0, REDACTED, ("sk_live_", "sk_test_")),
    (r"sk-ant-[A-Za-z0-9_-]{20,}", 0, REDACTED, ("sk-ant-",)),
    (r"sk-(?!ant-)[A-Za-z0-9_-]{20,}", 0, REDACTED, ("sk-",)),
    (r"AIzaSy[A-Za-z0-9_-]{33}", 0, REDACTED, ("AIzaSy",)),
    (r"xox[bpras]-[A-Za-z0-9-]{10,}", 0, REDACTED, ("xox",)),
    (r"npm_[A-Za-z0-9]{36,}", 0, REDACTED, ("npm_",)),
    (r"pypi-[A-Za-z0-9]{16,}", 0, REDACTED, ("pypi-",)),
    (r"hf_[A-Za-z0-9]{20,}", 0, REDACTED, ("hf_",)),
    (r"vercel_[A-Za-z0-9]{24,}", 0, REDACTED, ("vercel_",)),
    (r"sbp_[A-Za-z0-9]{20,}", 0, REDACTED, ("sbp_",)),
    (r"trk_[A-Za-z0-9]{32,}", 0, REDACTED, ("trk_",)),
    (r"\bprod:[a-z0-9-]+\|[A-Za-z0-9+/]{20,}={0,2}", 0, REDACTED, ("prod:",)),
    (r"\bsession_[A-Za-z0-9]{24,}\b", 0, REDACTED, ("session_",)),
    (
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        0,
        REDACTED,
        ("PRIVATE KEY-----",),
    ),
    (
        r"(?:postgres|postgresql|mysql|mongodb(?:\+srv)?|redis|amqp)s?://"
        r"[^\s\"'`,;)}\]]*@[^\s\"'`,;)}\]]+",
        re.IGNORECASE,
        REDACTED,
        ("://",),
    ),
    # e-mail addresses: see _emails (the official pattern and one more, per word).
    (None, 0, "emails", ("@",)),
    (
        r"Bearer\s+[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
        0,
        "Bearer " + REDACTED,
        ("Bearer",),
    ),
    # NAME=value where NAME holds SECRET, PASSWORD, ...: see _name_value below.
    (None, 0, "name=value", ("=",)),
    (
        r"(?:^|\n)((?:[A-Z][A-Z0-9_]*(?:_DSN|_URL|_URI|_ENDPOINT|_HOST|_CONN|_CONNECTION)"
        r"=[^\n]+\n?){2,})",
        re.MULTILINE,
        "\n[REDACTED_ENV_BLOCK]",
        ("_DSN=", "_URL=", "_URI=", "_ENDPOINT=", "_HOST=", "_CONN=", "_CONNECTION="),
    ),
]

_EXTRA: list[_Row] = [
    (r"glpat-[A-Za-z0-9_-]{20,}", 0, REDACTED, ("glpat-",)),
    # https://user:password@host: keep the user and the host, drop the password.
    (
        r"\b((?:https?|ftp|git|ssh|svn)://[^\s:/@\"'`]+:)[^\s@/\"'`]+@",
        re.IGNORECASE,
        r"\g<1>" + REDACTED + "@",
        ("://",),
    ),
    (
        r"(\bAuthorization\"?\s*[:=]\s*\"?(?:Bearer|Basic|Token|Digest)?\s*)"
        r"[A-Za-z0-9._~+/=-]{8,}",
        re.IGNORECASE,
        r"\g<1>" + REDACTED,
        ("uthorization", "UTHORIZATION"),
    ),
    # "password": "hunter2" / API_KEY = 'abc' / secret: "x" (quoted values only:
    # an unquoted `token = make_token()` is code, not a secret): see _quoted_value.
    (None, 0, "quoted", (":", "=")),
]


class RedactConfigError(UsageError):
    """A ``traces.redact`` pattern that cannot be used: uploads wait until it is fixed."""


class RedactTimeout(RedactConfigError):
    """A ``traces.redact`` pattern ran past its time on one string (a regex that
    backtracks without end): what it was redacting is not sent."""


# Seconds the user's patterns may take on one string (`traces.redactTimeout`). Python's
# regex engine has no timeout of its own, but it checks for signals as it runs: a timer
# signal stops a pattern that backtracks without end (e.g. `(a+)+$` on a long "aaa…b").
DEFAULT_USER_PATTERN_SECONDS = 5.0


_KEYWORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "PRIVATE", "_KEY")
_KEYWORDS_LOWER = tuple(k.lower() for k in _KEYWORDS) + ("apikey",)

# The official rule is /([A-Z_0-9]*(?:SECRET|...|_KEY)[A-Z_0-9]*)=("..."|'...'|\S+)/gi.
# As one Python regex it retries the keyword alternation at every character of
# every word (a tenth of the whole pass's speed); found from the keywords
# instead, with the same matches (see _replace_values).

# The official e-mail pattern, then one for what it misses (an address ending a
# sentence: "bob@x.com."). Neither can match across whitespace, and the
# official one's leading (^|[^/...]) is whitespace or the start there, so both
# run on the whitespace-free words holding an "@" only: same matches, without
# scanning all the text in a case-insensitive regex twice.
_EMAIL_OFFICIAL = re.compile(
    r"(^|[^/A-Z0-9._%+-])([A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,})(?=$|[^A-Z0-9._%+-])",
    re.IGNORECASE,
)
_EMAIL_MORE = re.compile(
    r"(?<![A-Z0-9._%+/-])[A-Z0-9._%+-]+@(?:[A-Z0-9-]+\.)+[A-Z]{2,}(?![A-Z0-9_%+-])",
    re.IGNORECASE,
)
_BLANKS = (" ", "\n", "\t", "\r")  # word ends (other blanks just make words longer)


def _email_word(word: str) -> str:
    word = _EMAIL_OFFICIAL.sub(r"\g<1>" + REDACTED, word)
    return _EMAIL_MORE.sub(REDACTED, word) if "@" in word else word


def _emails(text: str) -> str:
    out: list[str] = []
    kept = 0
    at = text.find("@")
    while at != -1:
        start = max(text.rfind(blank, kept, at) for blank in _BLANKS) + 1
        start = max(start, kept)
        ends = [e for e in (text.find(blank, at) for blank in _BLANKS) if e != -1]
        end = min(ends) if ends else len(text)
        out.append(text[kept:start])
        out.append(_email_word(text[start:end]))
        kept = end
        at = text.find("@", end)
    if not out:
        return text
    out.append(text[kept:])
    return "".join(out)


def _has_keyword(name: str) -> bool:
    upper = name.upper()
    return any(k in upper for k in _KEYWORDS) or "APIKEY" in upper


def _keyword_hits(text: str) -> list[int] | None:
    """Where a keyword starts, in order; None when lowering changes the length
    (some non-ASCII letters), where positions would not line up."""
    lowered = text.lower()
    if len(lowered) != len(text):
        return None
    hits = []
    for keyword in _KEYWORDS_LOWER:
        at = lowered.find(keyword)
        while at != -1:
            hits.append(at)
            at = lowered.find(keyword, at + 1)
    hits.sort()
    return hits


# From a keyword to the end of its word, then "=" and the value (official rule)...
_REST_EQ_VALUE = re.compile(r"[A-Za-z0-9_]*=(\"[^\"]*\"|'[^']*'|\S+)")
# ... or a quote, ":" or "=" and a quoted value (ours).
_REST_QUOTED_VALUE = re.compile(r"[A-Za-z0-9_-]*[\"']?\s*[:=]\s*(\"[^\"\n]+\"|'[^'\n]+')")
_WORD_EQ = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z0-9_]+=")
_KEY_QUOTED = re.compile(
    r"(?<![A-Za-z0-9_-])[\"']?([A-Za-z0-9_-]+)[\"']?\s*[:=]\s*(\"[^\"\n]+\"|'[^'\n]+')"
)


def _replace_values(
    text: str, rest: re.Pattern, replacement: str, slow: Callable[[str], str]
) -> str:
    """Replace the value after every secret-looking key, found from its keyword.

    Every name holding a keyword is found from the keyword on (the part of the
    name before it does not change the match), so only the few keyword hits
    are looked at instead of every word of the text.
    """
    hits = _keyword_hits(text)
    if hits is None:
        return slow(text)
    out: list[str] = []
    kept = 0
    for at in hits:
        if at < kept:
            continue
        found = rest.match(text, at)
        if found is None:
            continue
        out.append(text[kept : found.start(1)])
        out.append(replacement)
        kept = found.end()
    if not out:
        return text
    out.append(text[kept:])
    return "".join(out)


def _name_value_slow(text: str) -> str:
    out: list[str] = []
    kept = start = 0
    while (found := _WORD_EQ.search(text, start)) is not None:
        start = found.end()
        if not _has_keyword(found.group()[:-1]):
            continue
        value = _REST_EQ_VALUE.match(text, start - 1)
        if value is None:
            continue
        out.append(text[kept:start])
        out.append(REDACTED)
        kept = start = value.end()
    if not out:
        return text
    out.append(text[kept:])
    return "".join(out)


def _quoted_value_slow(text: str) -> str:
    out: list[str] = []
    kept = start = 0
    while (found := _KEY_QUOTED.search(text, start)) is not None:
        value_at = found.start(2)
        if not _has_keyword(found.group(1)):
            start = value_at + 1  # a key may sit inside this value: look there too
            continue
        out.append(text[kept:value_at])
        out.append("'" + REDACTED + "'")
        kept = start = found.end()
    if not out:
        return text
    out.append(text[kept:])
    return "".join(out)


def _name_value(text: str) -> str:
    return _replace_values(text, _REST_EQ_VALUE, REDACTED, _name_value_slow)


def _quoted_value(text: str) -> str:
    return _replace_values(text, _REST_QUOTED_VALUE, "'" + REDACTED + "'", _quoted_value_slow)


def _with_keyword(text: str) -> bool:
    lowered = text.lower()
    return any(k in lowered for k in _KEYWORDS_LOWER)


class _Rule:
    __slots__ = ("regex", "replacement", "literals", "function")

    def __init__(
        self,
        regex: re.Pattern | None,
        replacement: str,
        literals: tuple[str, ...],
        function: Callable[[str], str] | None = None,
    ):
        self.regex = regex
        self.replacement = replacement
        self.literals = literals
        self.function = function  # a hand-written pass (keyword rules), else regex.sub

    def apply(self, text: str) -> str:
        if self.function is not None:
            return self.function(text)
        assert self.regex is not None  # a rule is a function or a regex
        return self.regex.sub(self.replacement, text)


_FUNCTIONS = {"name=value": _name_value, "quoted": _quoted_value, "emails": _emails}
_KEYWORD_FUNCTIONS = (_name_value, _quoted_value)


def _compile(table: list[_Row]) -> list[_Rule]:
    return [
        _Rule(None, "", lits, _FUNCTIONS[repl])
        if pattern is None
        else _Rule(re.compile(pattern, flags), repl, lits)
        for pattern, flags, repl, lits in table
    ]


_BUILTIN = _compile(_OFFICIAL) + _compile(_EXTRA)

# What names a secrets file inside a tool call's arguments (a path, a shell command).
_SEP = r"\s'\"`=;|&<>(),:\[\]{}"
_SECRETS_FILE = re.compile(
    rf"(?:^|[{_SEP}/\\])("
    rf"\.env[^{_SEP}/\\]*|[^{_SEP}/\\]*\.(?:pem|key)|id_rsa[^{_SEP}/\\]*"
    rf"|\.npmrc|\.pypirc|credentials[^{_SEP}/\\]*"
    rf")(?=$|[{_SEP}])",
    re.IGNORECASE,
)
_SECRETS_FILE_HINTS = (".env", ".pem", ".key", "id_rsa", ".npmrc", ".pypirc", "credentials")


def compile_user_patterns(patterns: Iterable[str]) -> list[_Rule]:
    """The ``traces.redact`` patterns, compiled; RedactConfigError names the bad one."""
    rules = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern:
            continue
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise RedactConfigError(
                f"traces.redact pattern {pattern!r} is not a valid regular expression ({exc}); "
                "uploads wait until it is fixed (`git config --unset-all traces.redact` or "
                "`git config --global --unset-all traces.redact` removes them)"
            ) from None
        if regex.fullmatch("") is not None:
            raise RedactConfigError(
                f"traces.redact pattern {pattern!r} matches the empty string; "
                "uploads wait until it is fixed"
            )
        rules.append(_Rule(regex, REDACTED, ()))
    return rules


class _OutOfTime(Exception):
    pass


def _out_of_time(signum: int, frame: object) -> None:
    raise _OutOfTime


def _within_time(rules: list[_Rule], text: str, seconds: float) -> str:
    """``text`` through the user's ``rules``, each stopped after ``seconds`` by a timer
    signal (RedactTimeout). Off the main thread, where Python runs no signal handler,
    or without ``setitimer`` (Windows), the rules run without a limit."""
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    if not hasattr(signal, "setitimer") or not main_thread:
        for rule in rules:
            text = rule.apply(text)
        return text
    previous = signal.signal(signal.SIGALRM, _out_of_time)
    rule = rules[0]
    try:
        for rule in rules:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            text = rule.apply(text)
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _OutOfTime:
        raise RedactTimeout(
            f"traces.redact pattern {rule.regex.pattern if rule.regex else ''!r} ran longer "
            f"than {seconds:g} s on "
            f"one text of {len(text)} characters (a pattern that backtracks without end); "
            "that trace waits until the pattern is fixed (`git config --unset-all "
            "traces.redact` removes the patterns; `traces.redactTimeout` sets the time)"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
    return text


def user_patterns(config: Config) -> list[str]:
    return [p for p in config.get_all("traces.redact") if p.strip()]


def check(config: Config) -> str | None:
    """The problem with the configured patterns, or None (for status and doctor)."""
    try:
        compile_user_patterns(user_patterns(config))
    except RedactConfigError as exc:
        return str(exc)
    return None


def names_secrets_file(value: object) -> str | None:
    """The first secrets-file name found in a tool call's arguments, at any depth."""
    if isinstance(value, str):
        lowered = value.lower()
        if not any(hint in lowered for hint in _SECRETS_FILE_HINTS):
            return None
        found = _SECRETS_FILE.search(value)
        return found.group(1) if found else None
    if isinstance(value, dict):
        return names_secrets_file(list(value.values()))
    if isinstance(value, (list, tuple)):
        for item in value:
            name = names_secrets_file(item)
            if name:
                return name
    return None


class Redactor:
    """The built-in patterns plus the user's; one per upload run."""

    def __init__(
        self, patterns: Iterable[str] = (), user_seconds: float = DEFAULT_USER_PATTERN_SECONDS
    ):
        self.user_rules = compile_user_patterns(patterns)
        self.rules = _BUILTIN
        self.user_seconds = user_seconds
        self.secret_calls: set[object] = set()
        # A text message carries its text twice (textContent and the part): one pass.
        self._last: tuple[str, str] = ("", "")

    @classmethod
    def for_config(cls, config: Config) -> Redactor:
        seconds = config.get("traces.redactTimeout")
        try:
            limit = float(seconds) if seconds is not None else DEFAULT_USER_PATTERN_SECONDS
        except ValueError:
            limit = DEFAULT_USER_PATTERN_SECONDS
        if not limit > 0:  # 0, negative or nan: the default (no limit is never what helps)
            limit = DEFAULT_USER_PATTERN_SECONDS
        return cls(user_patterns(config), limit)

    def text(self, text: str) -> str:
        last_in, last_out = self._last
        if text is last_in:
            return last_out
        original = text
        if self.user_rules:
            text = _within_time(self.user_rules, text, self.user_seconds)
        keyword = None  # does the text name a secret-looking key? (asked once, if needed)
        for rule in self.rules:
            if rule.function in _KEYWORD_FUNCTIONS:
                if keyword is None:
                    keyword = _with_keyword(text)
                if not keyword:
                    continue
            literals = rule.literals
            if literals:
                if len(literals) == 1:
                    if literals[0] not in text:
                        continue
                elif not any(lit in text for lit in literals):
                    continue
            text = rule.apply(text)
        self._last = (original, text)
        return text

    def value(self, value: object) -> object:
        """Strings redacted at any depth of lists and dicts (keys are kept)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value

    def note_call(self, call_id: object, args: object) -> None:
        """Remember a tool call (sent in an earlier run) that read a secrets file."""
        if call_id and names_secrets_file(args):
            self.secret_calls.add(call_id)

    def message(self, msg: dict) -> dict:
        """One API message with every string redacted (IDs, role and numbers kept)."""
        out: dict = {}
        for key, item in msg.items():
            if key in ("externalId", "role", "order", "timestamp"):
                out[key] = item
            elif key == "parts":
                out[key] = [self._part(part) for part in item]
            else:
                out[key] = self.value(item)
        return out

    def _part(self, part: dict) -> dict:
        kind, content = part.get("type"), part.get("content")
        if not isinstance(content, dict):
            return {"type": kind, "content": self.value(content)}
        call_id = content.get("callId")
        if kind == "tool_call":
            self.note_call(call_id, content.get("args"))
        new = {
            key: (item if key == "callId" else self.value(item)) for key, item in content.items()
        }
        if kind == "tool_result" and call_id in self.secret_calls:
            new["output"] = SECRETS_FILE_OUTPUT
        return {"type": kind, "content": new}
