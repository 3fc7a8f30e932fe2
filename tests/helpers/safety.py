"""A trace seeded with one sample of every secret kind, and the Traces config files
(share rules, the official login) the upload-safety tests write."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def _prefixed(prefix: str, body: str) -> tuple[str, str]:
    return prefix + body, body


# kind -> (text as it appears in the transcript, the literal that must never be sent)
SECRETS: dict[str, tuple[str, str]] = {
    "aws": _prefixed("", "AKIAIOSFODNN7EXAMPLE"),
    "github": _prefixed("ghp_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    "github_oauth": _prefixed("gho_", "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"),
    "github_pat": _prefixed("github_pat_", "11ABCDEFG0123456789_abcdefghijKLMN"),
    "stripe_live": _prefixed("sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"),
    "stripe_test": _prefixed("sk_test_", "51Hs8dKLmnOPqrSTuvWXyz01"),
    "anthropic": ("sk-ant-api03-" + "Qw3rTy7uIoPaSdFgHjKlZxCv", "Qw3rTy7uIoPaSdFgHjKlZxCv"),
    "openai": ("sk-proj-" + "Mn8bVc5xZl2kJh9gFd6sAp3oIu", "Mn8bVc5xZl2kJh9gFd6sAp3oIu"),
    "google": _prefixed("AIzaSy", "B1c2D3e4F5g6H7i8J9k0L1m2N3o4P5q6R"),
    "slack": _prefixed("xoxb-", "2048-4096-SlackSecret77"),
    "npm": _prefixed("npm_", "N0pQ1rS2tU3vW4xY5zA6bC7dE8fG9hI0jK1l"),
    "pypi": _prefixed("pypi-", "AgEIcHlwaS5vcmcCJDUx"),
    "huggingface": _prefixed("hf_", "HuGgInGfAcEsEcReT12345"),
    "vercel": _prefixed("vercel_", "VeRcElSeCrEt0123456789abcd"),
    "supabase": _prefixed("sbp_", "SuPaBaSe0123456789abcdef"),
    "traces": _prefixed("trk_", "TrAcEsKeY0123456789abcdefghijklmnop"),
    "pem": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpemBodySecretLine0123\n-----END RSA PRIVATE KEY-----",
        "MIIEpemBodySecretLine0123",
    ),
    "database_url": ("postgres://admin:Pgs3cretPw@db.internal:5432/app", "Pgs3cretPw"),
    "redis_url": ("redis://:R3disPw@cache.internal:6379/0", "R3disPw"),
    "email": ("alice.secret@example.com", "alice.secret@example.com"),
    "jwt": (
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.JwtSignatureSecret",
        "JwtSignatureSecret",
    ),
    "password_env": ("DB_PASSWORD=hunter2hunter2", "hunter2hunter2"),
    "key_env": ("MY_API_KEY=keyvalue998877", "keyvalue998877"),
    "env_block": (
        "\nSERVICE_URL=https://svc.example/api-envblock-one\nCACHE_HOST=envblock-two.internal\n",
        "envblock-two.internal",
    ),
}

# Only the whole-output rule protects this one: no pattern knows it.
DOTENV_ONLY = "PLAIN_SETTING=only-in-the-dotenv-4471"


def secret_text(where: str) -> str:
    """Every secret, each between two marker words that must still arrive."""
    lines = [f"{where}: start"]
    for kind, (text, _) in SECRETS.items():
        if kind == "env_block":
            lines.append(f"keep-{where}-{kind}-before{text}keep-{where}-{kind}-after")
        else:
            lines.append(f"keep-{where}-{kind}-before {text} keep-{where}-{kind}-after")
    return "\n".join(lines)


def markers(where: str) -> list[str]:
    return [f"keep-{where}-{kind}-{side}" for kind in SECRETS for side in ("before", "after")]


def seed(store, trace_id: str, repo: Path, *, title: str = "a trace") -> None:
    """User text, agent text, thinking, tool args, tool output, a .env read, an error."""
    store.add_trace(trace_id, repo, edits=[repo / "app.py"], messages=0, title=title)
    store.add_event(trace_id, {"type": "user_message", "content": secret_text("user")})
    store.add_event(
        trace_id,
        {"type": "agent_thinking", "content": secret_text("thinking"), "durationMs": 12},
    )
    store.add_event(
        trace_id,
        {"type": "agent_text", "content": secret_text("agent"), "modelId": "claude-sonnet-4"},
    )
    store.add_event(
        trace_id,
        {
            "type": "tool_call",
            "callId": "call-bash",
            "toolName": "Bash",
            "args": {
                "command": "deploy --verbose",
                "env": {"deep": [secret_text("args")]},
            },
        },
    )
    store.add_event(
        trace_id,
        {
            "type": "tool_result",
            "callId": "call-bash",
            "toolName": "Bash",
            "output": secret_text("output"),
            "status": "success",
        },
    )
    store.add_event(
        trace_id,
        {
            "type": "tool_call",
            "callId": "call-env",
            "toolName": "Read",
            "args": {"file_path": str(repo / ".env")},
        },
    )
    store.add_event(
        trace_id,
        {
            "type": "tool_result",
            "callId": "call-env",
            "toolName": "Read",
            "output": DOTENV_ONLY + "\n" + secret_text("dotenv"),
            "status": "success",
        },
    )
    store.add_event(trace_id, {"type": "error", "message": secret_text("error")})


def literals() -> list[str]:
    return [literal for _, literal in SECRETS.values()] + [DOTENV_ONLY.split("=")[1]]


# --- the official CLI's config dir ---------------------------------------------------------


def traces_config_dir() -> Path:
    explicit = os.environ.get("TRACES_CONFIG_DIR")
    return Path(explicit) if explicit else Path(os.environ["XDG_CONFIG_HOME"]) / "traces"


def endpoint_hash(url: str) -> str:
    return hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:12]


def write_share_rules(url: str, rules: dict | str) -> Path:
    path = traces_config_dir() / f"share-{endpoint_hash(url)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rules if isinstance(rules, str) else json.dumps({"rules": rules}))
    os.chmod(path, 0o600)
    return path


def write_official_login(
    url: str,
    device_key: str,
    *,
    namespace_id: str = "ns-personal",
    slug: str = "tester",
    kind: str = "individual",
    legacy: bool = False,
    mode: int = 0o600,
) -> Path:
    name = "credentials.json" if legacy else f"credentials-{endpoint_hash(url)}.json"
    path = traces_config_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "deviceId": "device-1",
                "deviceKey": device_key,
                "userId": "user-1",
                "namespaceId": namespace_id,
                "namespaceSlug": slug,
                "namespaceType": kind,
            }
        )
    )
    os.chmod(path, mode)
    return path
