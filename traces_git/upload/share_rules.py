"""Where a trace is published, resolved as the official Traces CLI 0.6.31 does.

For the trace's directory, in order (read from the official binary):

1. a folder rule in ``<traces config>/share-<h>.json``
   (``{"rules": {"/abs/folder": "off" | {"id", "slug", "type"} | "@slug"}}``),
   the nearest ancestor wins; ``"off"`` means never shared;
2. ``.tracesrc`` in the directory or an ancestor: ``key = value`` lines,
   ``#`` comments, ``namespace = @slug`` pins a namespace by slug;
3. an API key (``trk_``) as the token: the server's default (no target sent);
4. the user's auto-share namespace (``preferences-<h>.json``);
5. the stored login's active namespace (``credentials-<h>.json``);
6. otherwise no destination: nothing is sent.

``<traces config>`` is ``TRACES_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/traces``,
else ``~/.config/traces``; ``<h>`` the first 12 hex digits of the sha256 of the
API base URL without a trailing slash. A share file that cannot be read or
parsed could govern any folder: every upload waits (fail closed).

The hook only calls :func:`hook_rule_off`, which costs one ``listdir`` when
the user has no share file.
"""

from __future__ import annotations

import os

from traces_git.errors import UsageError

SHARE_PREFIX = "share-"
TRACESRC = ".tracesrc"
SETTINGS = "share settings"  # Destination.source of a hold caused by a malformed file
_SLUG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class ShareConfigError(UsageError):
    """The share settings file is malformed: nothing is uploaded until it is fixed."""


def config_dir() -> str:
    explicit = os.environ.get("TRACES_CONFIG_DIR", "")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return os.path.join(xdg or os.path.expanduser("~/.config"), "traces")


def endpoint_hash(api_url: str) -> str:
    import hashlib

    return hashlib.sha256(api_url.rstrip("/").encode("utf-8")).hexdigest()[:12]


def share_file(api_url: str) -> str:
    return os.path.join(config_dir(), f"{SHARE_PREFIX}{endpoint_hash(api_url)}.json")


def _valid_slug(slug: object) -> bool:
    return (
        isinstance(slug, str)
        and bool(slug)
        and slug[0] not in "_-"
        and all(c in _SLUG_CHARS for c in slug)
    )


def parse_rules(text: str, where: str) -> dict[str, object]:
    """``{folder: "off" | {"id","slug","type"} | "@slug"}``; ShareConfigError when malformed."""
    try:
        import json  # not at import time: the post-commit hook imports this module

        data = json.loads(text)
    except ValueError as exc:
        raise ShareConfigError(f"share settings {where} are not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ShareConfigError(f'share settings {where} must be a JSON object with a "rules" map')
    for key in data:
        if key not in ("rules", "//"):
            raise ShareConfigError(f"share settings {where} have an unknown key {key!r}")
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise ShareConfigError(f'share settings {where}: "rules" must be an object')
    parsed: dict[str, object] = {}
    for folder, value in rules.items():
        if not os.path.isabs(folder):
            raise ShareConfigError(
                f"share settings {where}: rule key {folder!r} is not an absolute folder path"
            )
        parsed[os.path.normpath(folder)] = _rule_value(folder, value, where)
    return parsed


def _rule_value(folder: str, value: object, where: str) -> object:
    if value == "off":
        return "off"
    if isinstance(value, str):
        if not value.startswith("@") or not _valid_slug(value[1:]):
            raise ShareConfigError(
                f'share settings {where}: the rule for {folder!r} must be "off", "@slug" '
                "or a namespace object"
            )
        return value
    if not isinstance(value, dict):
        raise ShareConfigError(
            f'share settings {where}: the rule for {folder!r} must be "off", "@slug" '
            "or a namespace object"
        )
    if not isinstance(value.get("id"), str) or not value["id"]:
        raise ShareConfigError(f"share settings {where}: the rule for {folder!r} has no id")
    if not _valid_slug(value.get("slug")):
        raise ShareConfigError(f"share settings {where}: the rule for {folder!r} has a bad slug")
    if value.get("type") not in ("individual", "org"):
        raise ShareConfigError(
            f'share settings {where}: the rule for {folder!r} needs type "individual" or "org"'
        )
    return {"id": value["id"], "slug": value["slug"], "type": value["type"]}


def load_rules(api_url: str) -> dict[str, object]:
    """The rules for this API endpoint ({} without a file); ShareConfigError when unusable."""
    path = share_file(api_url)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ShareConfigError(f"cannot read share settings {path}: {exc}") from None
    return parse_rules(text, path)


def nearest_rule(directory: str, rules: dict[str, object]) -> tuple[str, object] | None:
    """(matched folder, rule) of the nearest ancestor (or the folder itself), or None."""
    if not rules:
        return None
    current = os.path.normpath(os.path.abspath(directory))
    while True:
        if current in rules:
            return current, rules[current]
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def rule_for(directory: str, rules: dict[str, object]) -> tuple[str, object] | None:
    """:func:`nearest_rule` for the path as given and, when it differs, its real path
    (a rule may name either spelling of a symlinked folder); an "off" under either wins."""
    found = nearest_rule(directory, rules)
    real = os.path.realpath(directory)
    if rules and real != os.path.normpath(os.path.abspath(directory)):
        other = nearest_rule(real, rules)
        if other is not None and (found is None or other[1] == "off"):
            found = other
    return found


def find_tracesrc(directory: str) -> str | None:
    current = os.path.normpath(os.path.abspath(directory))
    while True:
        candidate = os.path.join(current, TRACESRC)
        if os.path.exists(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def tracesrc_namespace(path: str) -> str | None:
    """The slug a ``.tracesrc`` pins (``namespace = @slug``), or None."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    values = {}
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    slug = values.get("namespace", "")
    slug = slug[1:] if slug.startswith("@") else slug
    return slug or None


def auto_share_slug(api_url: str, user_id: str | None) -> str | None:
    if not user_id:
        return None
    path = os.path.join(config_dir(), f"preferences-{endpoint_hash(api_url)}.json")
    try:
        with open(path, encoding="utf-8") as handle:
            import json

            data = json.load(handle)
    except (OSError, ValueError):
        return None
    slugs = data.get("autoShareSlugByUserId") if isinstance(data, dict) else None
    slug = slugs.get(user_id) if isinstance(slugs, dict) else None
    return slug if isinstance(slug, str) and slug else None


class Destination:
    """Where one trace goes. ``action``: publish, skip (rule off), hold (no destination,
    a slug to look up, a malformed share file)."""

    __slots__ = ("action", "namespace", "visibility", "source", "reason", "lookup_slug")

    def __init__(
        self,
        action: str,
        *,
        namespace: dict | None = None,
        visibility: str | None = None,
        source: str = "",
        reason: str = "",
        lookup_slug: str | None = None,
    ):
        self.action = action
        self.namespace = namespace  # {"id", "slug", "type"} or None (server default)
        self.visibility = visibility
        self.source = source  # "share rule /x", ".tracesrc /x", "API key default", ...
        self.reason = reason  # for skip/hold: one line
        self.lookup_slug = lookup_slug  # a slug the namespaces list must turn into an id

    def as_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def describe(self) -> str:
        if self.action == "publish":
            where = f"@{self.namespace['slug']}" if self.namespace else "the API key's default"
            return f"{where} ({self.visibility}; from {self.source})"
        return self.reason


def _visibility(namespace_type: str | None, chosen: str | None) -> str:
    if chosen:
        return chosen
    return "private" if namespace_type == "org" else "direct"


def publish_to(namespace: dict, source: str, chosen_visibility: str | None) -> Destination:
    return Destination(
        "publish",
        namespace=namespace,
        visibility=_visibility(namespace.get("type"), chosen_visibility),
        source=source,
    )


def _by_slug(
    slug: str,
    source: str,
    credentials: dict | None,
    chosen_visibility: str | None,
    why: str,
) -> Destination:
    if credentials and credentials.get("namespaceSlug") == slug and credentials.get("namespaceId"):
        namespace = {
            "id": credentials["namespaceId"],
            "slug": slug,
            "type": credentials.get("namespaceType"),
        }
        return publish_to(namespace, source, chosen_visibility)
    return Destination(
        "hold",
        source=source,
        lookup_slug=slug,
        reason=f"{why} names @{slug}, which needs a namespace lookup",
    )


def resolve(
    directory: str | None,
    api_url: str,
    *,
    token_value: str | None,
    credentials: dict | None,
    chosen_visibility: str | None = None,
) -> Destination:
    """The destination for a trace that worked in ``directory``."""
    if directory:
        try:
            rules = load_rules(api_url)
        except ShareConfigError as exc:
            return Destination(
                "hold", source=SETTINGS, reason=f"{exc} (nothing is uploaded until it is fixed)"
            )
        found = rule_for(directory, rules)
        if found is not None:
            folder, rule = found
            source = f"share rule {folder}"
            if rule == "off":
                return Destination("skip", source=source, reason=f'share rule "off" for {folder}')
            if isinstance(rule, str):
                return _by_slug(rule[1:], source, credentials, chosen_visibility, source)
            return publish_to(dict(rule), source, chosen_visibility)  # type: ignore[call-overload]
        rc = find_tracesrc(directory)
        slug = tracesrc_namespace(rc) if rc else None
        if rc and slug:
            source = f".tracesrc {rc}"
            return _by_slug(slug, source, credentials, chosen_visibility, source)
    if token_value and token_value.startswith("trk_"):
        return Destination(
            "publish",
            visibility=chosen_visibility or "direct",
            source="the API key's default namespace",
        )
    slug = auto_share_slug(api_url, (credentials or {}).get("userId"))
    if slug:
        return _by_slug(slug, "auto-share", credentials, chosen_visibility, "auto-share")
    if credentials and credentials.get("namespaceSlug"):
        namespace = {
            "id": credentials.get("namespaceId"),
            "slug": credentials["namespaceSlug"],
            "type": credentials.get("namespaceType"),
        }
        return publish_to(namespace, "the login's active namespace", chosen_visibility)
    return Destination(
        "hold",
        reason="no share destination: no share rule, no .tracesrc, no API key and no "
        "namespace in a `traces login`",
    )


def complete_lookup(dest: Destination, namespaces: list[dict], chosen: str | None) -> Destination:
    """Turn a slug into a namespace with the API's namespace list (GET /v1/namespaces)."""
    for item in namespaces:
        if isinstance(item, dict) and item.get("slug") == dest.lookup_slug and item.get("id"):
            namespace = {"id": item["id"], "slug": item["slug"], "type": item.get("type")}
            return publish_to(namespace, dest.source, chosen)
    return Destination(
        "hold",
        source=dest.source,
        reason=f"{dest.source} names @{dest.lookup_slug}, a namespace this login cannot see",
    )


# --- the hook's cheap check ----------------------------------------------------------


def hook_rule_off(directory: str, api_url: str) -> str | None:
    """The folder of an ``"off"`` rule covering all of ``directory``, else None.

    Cheap when there is no share file (one listdir). A malformed file, or a
    rule on a folder inside ``directory``, returns None here: the entry is
    queued and the worker decides with the trace's own directory (holding
    everything for a malformed file).
    """
    try:
        names = os.listdir(config_dir())
    except OSError:
        return None
    if not any(n.startswith(SHARE_PREFIX) for n in names):
        return None
    try:
        rules = load_rules(api_url)
    except ShareConfigError:
        return None
    found = rule_for(directory, rules)
    if found is None or found[1] != "off":
        return None
    # A deeper rule may publish a trace working in a subfolder: the worker decides.
    inside = [os.path.normpath(os.path.abspath(directory)), os.path.realpath(directory)]
    if any(key.startswith(root + os.sep) for key in rules for root in inside):
        return None
    return found[0]
