"""The redaction pass, the share-rule resolution and the token order, as plain functions."""

from __future__ import annotations

import json
import os
import random
import re

import pytest

from tests.helpers.safety import SECRETS, write_official_login, write_share_rules
from traces_git.upload import auth, redact, share_rules

URL = "https://actions.traces.com"


# --- patterns ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_secret_kind_is_redacted_with_its_context_kept(kind):
    text, literal = SECRETS[kind]
    out = redact.Redactor().text(f"before {text} after")
    assert literal not in out
    assert out.startswith("before") and out.endswith("after")
    assert "[REDACTED" in out


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DB_PASSWORD=hunter2 rest", "DB_PASSWORD=[REDACTED] rest"),
        ('SECRET="two words" rest', "SECRET=[REDACTED] rest"),
        ("FOO=MY_TOKEN=abc", "FOO=MY_TOKEN=[REDACTED]"),
        ("PATH=/usr/bin", "PATH=/usr/bin"),
        ("git@github.com:org/repo.git", "[REDACTED]:org/repo.git"),
        ("see https://host/u@example.com", "see https://host/u@example.com"),  # as the official
        ("mail bob@example.com.", "mail [REDACTED]."),  # one the official misses
        ("https://alice:pw123@host/x", "https://alice:[REDACTED]@host/x"),
        ('{"password": "hunter2"}', "{\"password\": '[REDACTED]'}"),
        ("token = make_token()", "token = make_token()"),  # code, not a secret
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED]"),
        ("glpat-abcdefghijklmnopqrstuvwxyz", "[REDACTED]"),
        ("a sha 3f2c1e0d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e stays", None),
    ],
)
def test_pattern_details(text, expected):
    assert redact.Redactor().text(text) == (text if expected is None else expected)


def test_the_keyword_rule_matches_the_official_regex_exactly():
    official = re.compile(
        r"([A-Z_0-9]*(?:SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|_KEY)[A-Z_0-9]*)="
        r"(\"[^\"]*\"|'[^']*'|[^\s]+)",
        re.IGNORECASE,
    )
    rng = random.Random(10)
    pieces = ["TOKEN", "secret", "_key", "PASSWD", "a", "B", "_", "=", '"', "'", " ", "\n", "-"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        assert redact._name_value(text) == official.sub(r"\1=[REDACTED]", text), text


def test_non_ascii_text_takes_the_slow_path_with_the_same_result():
    text = "İstanbul DB_TOKEN=abc and secret: 'x1'"
    out = redact.Redactor().text(text)
    assert out == "İstanbul DB_TOKEN=[REDACTED] and secret: '[REDACTED]'"


def test_the_output_of_a_call_that_read_a_secrets_file_is_replaced():
    r = redact.Redactor()
    for call_id, args in [
        ("c1", {"file_path": "/p/.env.local"}),
        ("c2", {"command": "cat ~/.ssh/id_rsa | head"}),
        ("c3", {"path": "/p/certs/server.pem"}),
        ("c4", {"nested": [{"file": "/home/u/.aws/credentials"}]}),
        ("c5", {"command": "grep TOKEN .npmrc"}),
    ]:
        r.message(_call(call_id, args))
        out = r.message(_result(call_id, "NOTHING_MATCHES_THIS=plain-value-17"))
        assert out["parts"][0]["content"]["output"] == redact.SECRETS_FILE_OUTPUT, args
    r.message(_call("c6", {"file_path": "/p/src/keys.py"}))
    out = r.message(_result("c6", "plain-value-17"))
    assert out["parts"][0]["content"]["output"] == "plain-value-17"


def _call(call_id, args):
    content = {"callId": call_id, "toolName": "Read", "args": args}
    return {
        "externalId": call_id,
        "role": "assistant",
        "parts": [{"type": "tool_call", "content": content}],
    }  # noqa: E501


def _result(call_id, output):
    content = {"callId": call_id, "toolName": "Read", "output": output, "status": "success"}
    return {
        "externalId": call_id + "r",
        "role": "assistant",
        "parts": [{"type": "tool_result", "content": content}],
    }


def test_user_patterns_run_and_bad_ones_are_named():
    assert redact.Redactor(["ACME-[0-9]{6}"]).text("id ACME-123456.") == "id [REDACTED]."
    with pytest.raises(redact.RedactConfigError, match=r"'\(\[x' is not a valid regular"):
        redact.Redactor(["([x"])
    with pytest.raises(redact.RedactConfigError, match="matches the empty string"):
        redact.Redactor(["a*"])


BACKTRACKING = r"(a+)+$"  # catastrophic on "aaa…b": 2^n ways to fail


def test_a_user_pattern_that_backtracks_without_end_is_stopped_and_named():
    import signal
    import time

    before = signal.getsignal(signal.SIGALRM)
    redactor = redact.Redactor(["ACME-[0-9]{6}", BACKTRACKING], user_seconds=0.2)
    assert redactor.text("id ACME-123456, aaa") == "id [REDACTED], [REDACTED]"
    started = time.monotonic()
    with pytest.raises(redact.RedactTimeout, match=r"'\(a\+\)\+\$' ran longer than 0.2 s"):
        redactor.text("a" * 60 + "b")
    assert time.monotonic() - started < 5  # stopped, not run to its end (years)
    assert signal.getsignal(signal.SIGALRM) == before  # the handler before it is back
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert redactor.text("id ACME-654321") == "id [REDACTED]"  # the redactor still works


def test_redact_timeout_comes_from_config_and_bad_values_keep_the_default():
    from traces_git.config import Config

    def limit(*values: str) -> float:
        config = Config({"traces.redacttimeout": list(values)})
        return redact.Redactor.for_config(config).user_seconds

    assert limit("0.5") == 0.5
    for bad in ("soon", "0", "-1", "nan"):
        assert limit(bad) == redact.DEFAULT_USER_PATTERN_SECONDS, bad
    assert redact.Redactor.for_config(Config({})).user_seconds == 5.0


def test_ids_and_numbers_are_kept():
    msg = {
        "externalId": "sk-ant-aaaaaaaaaaaaaaaaaaaaaaaa",
        "role": "user",
        "order": 3,
        "textContent": "x sk-ant-aaaaaaaaaaaaaaaaaaaaaaaa",
        "parts": [],
    }
    out = redact.Redactor().message(msg)
    assert out["externalId"] == msg["externalId"] and out["order"] == 3
    assert out["textContent"] == "x [REDACTED]"


# --- share rules ------------------------------------------------------------------------


def test_config_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert share_rules.config_dir() == str(tmp_path / "xdg" / "traces")
    monkeypatch.setenv("TRACES_CONFIG_DIR", str(tmp_path / "explicit"))
    assert share_rules.config_dir() == str(tmp_path / "explicit")
    monkeypatch.delenv("TRACES_CONFIG_DIR")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert share_rules.config_dir() == os.path.expanduser("~/.config/traces")


def test_endpoint_hash_matches_the_official_file_name():
    assert share_rules.endpoint_hash(URL) == "319efaba0a0e"
    assert share_rules.endpoint_hash(URL + "/") == "319efaba0a0e"


@pytest.mark.parametrize(
    "text, message",
    [
        ("{nope", "not valid JSON"),
        ("[]", 'must be a JSON object with a "rules" map'),
        ('{"rules": [], "x": 1}', "unknown key 'x'"),
        ('{"rules": {"rel/dir": "off"}}', "not an absolute folder path"),
        ('{"rules": {"/a": "on"}}', 'must be "off", "@slug" or a namespace object'),
        ('{"rules": {"/a": {"slug": "x", "type": "org"}}}', "has no id"),
        ('{"rules": {"/a": {"id": "1", "slug": "x", "type": "team"}}}', 'type "individual"'),
    ],
)
def test_malformed_share_settings_are_errors(text, message):
    with pytest.raises(share_rules.ShareConfigError, match=re.escape(message)):
        share_rules.parse_rules(text, "share.json")


def test_resolution_order(tmp_path):
    work = tmp_path / "work"
    deep = work / "a" / "b"
    deep.mkdir(parents=True)
    creds = {
        "userId": "u",
        "namespaceId": "ns-me",
        "namespaceSlug": "me",
        "namespaceType": "individual",
    }  # noqa: E501

    def resolve(token="device-token", credentials=creds, directory=deep):
        return share_rules.resolve(str(directory), URL, token_value=token, credentials=credentials)

    dest = resolve()
    assert dest.action == "publish" and dest.namespace["id"] == "ns-me"
    assert dest.visibility == "direct" and dest.source == "the login's active namespace"
    dest = resolve(token="trk_key", credentials=None)
    assert dest.action == "publish" and dest.namespace is None and dest.visibility == "direct"
    assert resolve(token="device", credentials=None).action == "hold"

    (work / ".tracesrc").write_text("# pinned\nnamespace = @me\n")
    dest = resolve(token="trk_key")
    assert dest.source == f".tracesrc {work / '.tracesrc'}" and dest.namespace["id"] == "ns-me"
    (work / ".tracesrc").write_text("namespace = team\n")
    assert resolve().lookup_slug == "team"

    write_share_rules(URL, {str(work): {"id": "ns-org", "slug": "org", "type": "org"}})
    dest = resolve()
    assert dest.namespace["id"] == "ns-org" and dest.visibility == "private"
    write_share_rules(
        URL, {str(work): {"id": "ns-org", "slug": "org", "type": "org"}, str(work / "a"): "off"}
    )  # noqa: E501
    assert resolve().action == "skip"
    assert resolve(directory=work).action == "publish"
    write_share_rules(URL, "{bad")
    dest = resolve()
    assert dest.action == "hold" and dest.source == share_rules.SETTINGS


def test_hook_check_is_off_only_for_a_covering_off_rule(tmp_path):
    assert share_rules.hook_rule_off(str(tmp_path), URL) is None  # no file at all
    write_share_rules(URL, {str(tmp_path): "off"})
    assert share_rules.hook_rule_off(str(tmp_path / "x"), URL) == str(tmp_path)
    write_share_rules(URL, "{bad")
    assert share_rules.hook_rule_off(str(tmp_path), URL) is None  # the worker holds it


# --- token order --------------------------------------------------------------------------


def test_token_order(monkeypatch):
    monkeypatch.setenv("TRACES_HTTP_URL", URL)
    auth.save("trk_own_login")
    assert auth.load(URL).source == "traces-git login"
    monkeypatch.setenv("TRACES_API_KEY", "trk_env_key")
    assert auth.load(URL).source == "TRACES_API_KEY"
    write_official_login(URL, "device-key", legacy=True)
    assert auth.load(URL) == auth.Token("device-key", "traces login")
    write_official_login(URL, "device-key-2")  # credentials-<h>.json wins over the legacy file
    assert auth.load(URL).value == "device-key-2"
    assert auth.overriding_own_login(URL) == "traces login"
    monkeypatch.setenv("TRACES_CLI_AUTH_TOKEN", "explicit")
    assert auth.load(URL).source == "TRACES_CLI_AUTH_TOKEN"


def test_an_incomplete_official_login_is_not_a_login():
    path = write_official_login(URL, "device-key")
    data = json.loads(path.read_text())
    del data["namespaceSlug"]
    path.write_text(json.dumps(data))
    assert auth.load(URL) is None


def test_an_official_login_others_can_read_is_refused():
    write_official_login(URL, "device-key", mode=0o640)
    with pytest.raises(auth.TokenFileError, match="readable by other users"):
        auth.load(URL)


def test_an_off_rule_on_either_spelling_of_a_symlinked_folder_wins(tmp_path):
    real = tmp_path / "real" / "proj"
    real.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    write_share_rules(
        URL, {str(link / "proj"): {"id": "ns-o", "slug": "o", "type": "org"}, str(real): "off"}
    )
    dest = share_rules.resolve(str(link / "proj"), URL, token_value="trk_k", credentials=None)
    assert dest.action == "skip"
    assert share_rules.hook_rule_off(str(real), URL) == str(real)


def test_slug_rules_and_auto_share_resolve_through_the_login(tmp_path):
    creds = {
        "userId": "u-1",
        "namespaceId": "ns-t",
        "namespaceSlug": "team",
        "namespaceType": "org",
    }
    write_share_rules(URL, {str(tmp_path): "@team"})
    dest = share_rules.resolve(str(tmp_path), URL, token_value="dev", credentials=creds)
    assert dest.namespace == {"id": "ns-t", "slug": "team", "type": "org"}
    assert dest.visibility == "private"
    write_share_rules(URL, {str(tmp_path): "@other"})
    dest = share_rules.resolve(str(tmp_path), URL, token_value="dev", credentials=creds)
    assert dest.action == "hold" and dest.lookup_slug == "other"
    found = share_rules.complete_lookup(
        dest, [{"id": "ns-o", "slug": "other", "type": "individual"}], None
    )  # noqa: E501
    assert found.namespace["id"] == "ns-o" and found.visibility == "direct"
    missing = share_rules.complete_lookup(dest, [], None)
    assert missing.action == "hold" and "cannot see" in missing.reason

    write_share_rules(URL, {})
    prefs = share_rules.config_dir() + f"/preferences-{share_rules.endpoint_hash(URL)}.json"
    with open(prefs, "w") as handle:
        json.dump({"autoShareSlugByUserId": {"u-1": "team"}}, handle)
    dest = share_rules.resolve(str(tmp_path), URL, token_value="dev", credentials=creds)
    assert dest.source == "auto-share" and dest.namespace["id"] == "ns-t"


def test_the_hook_leaves_a_folder_with_deeper_rules_to_the_worker(tmp_path):
    sub = tmp_path / "sub"
    write_share_rules(
        URL, {str(tmp_path): "off", str(sub): {"id": "n", "slug": "n", "type": "org"}}
    )
    assert share_rules.hook_rule_off(str(tmp_path), URL) is None
    dest = share_rules.resolve(str(sub), URL, token_value="trk_k", credentials=None)
    assert dest.action == "publish" and dest.namespace["id"] == "n"
    assert (
        share_rules.resolve(str(tmp_path), URL, token_value="trk_k", credentials=None).action
        == "skip"
    )
