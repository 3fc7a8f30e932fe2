"""The pure rules behind replay detection and the removal of the official hooks' blocks."""

from __future__ import annotations

import pytest

from traces_git.attribution import replay
from traces_git.attribution.selection import env_hints
from traces_git.setup import official_hooks

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (f'Revert "add a thing"\n\nThis reverts commit {SHA}.\n', True),
        (f'revert "add a thing"\n\nthis reverts commit {SHA}.', True),  # case-insensitive
        (f'Revert "Revert "x""\n\nThis reverts commit {SHA}.\n\nbecause', True),
        (f'Revert "add a thing"\nThis reverts commit {SHA}.', False),  # no blank line
        (f'Revert ""\n\nThis reverts commit {SHA}.', False),  # empty subject
        ('Revert "add a thing"\n\nThis reverts commit nothex.', False),
        (f'Revert "add a thing"\n\nThis reverts commit {SHA}', False),  # no final dot
        ('Revert "the thing" partially, by hand', False),
        ("", False),
    ],
)
def test_revert_message(message, expected):
    assert replay.is_revert_message(message) is expected


START, END = official_hooks.BLOCK_START, official_hooks.BLOCK_END
BLOCK = f"{START}\nif [ -x x ]; then\n  x\nfi\n{END}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"#!/bin/sh\necho mine\n\n{BLOCK}", "#!/bin/sh\necho mine\n"),
        (f"#!/bin/sh\necho mine\n\n{BLOCK}echo after\n", "#!/bin/sh\necho mine\n\necho after\n"),
        (
            f"#!/bin/sh\n\n\n\necho spaced\n\n{BLOCK}",
            "#!/bin/sh\n\n\n\necho spaced\n",  # the user's blank lines stay
        ),
        (f"#!/bin/sh\r\necho crlf\r\n\r\n{BLOCK}", "#!/bin/sh\r\necho crlf\r\n"),
        (f"#!/bin/sh\n\n{BLOCK}\n\n", "#!/bin/sh\n"),
        (f"#!/bin/sh\n{BLOCK}x\n\n{BLOCK}", "#!/bin/sh\nx\n"),
        (f"#!/bin/sh\n{START}\necho no end\n", None),
        ("#!/bin/sh\necho nothing of theirs\n", None),
    ],
)
def test_without_block(text, expected):
    assert official_hooks.without_block(text) == expected


def test_hints_parse():
    hints = env_hints(
        {
            "TRACES_TRACE_ID": "a, b",
            "TRACES_CURRENT_TRACE_ID": "live",
            "TRACES_CURRENT_AGENT": "pi",
            "TRACES_CURRENT_SOURCE_PATH": "/s/one.jsonl",
            "TRACES_SOURCE_PATH": "/s/one.jsonl",
        }
    )
    assert hints.explicit == ["a", "b"]
    assert hints.trace_ids == [("live", "TRACES_CURRENT_TRACE_ID")]
    assert hints.source_paths == [("/s/one.jsonl", "TRACES_CURRENT_SOURCE_PATH")]
    assert not env_hints({})
    bad = env_hints({"TRACES_CURRENT_TRACE_ID": "has space", "TRACES_CURRENT_AGENT": "codex"})
    assert bad.trace_ids == []
    assert bad.ignored[0]["why"] == "not a trace ID"
