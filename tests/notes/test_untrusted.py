"""Untrusted text stays data: hostile notes, subjects, titles and API answers through
every reader and writer (note_format, notes_check, safe_text)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import commit_file, git, head, init_repo, traces_git
from tests.helpers.ci import bare_remote
from traces_git import safe_text
from traces_git.attribution import explain
from traces_git.ci import output as ci_output
from traces_git.ci import report as ci
from traces_git.config import Config
from traces_git.notes import core as notes
from traces_git.notes import format as note_format
from traces_git.upload import handoff as upload
from traces_git.views import blame_render

# Hostile foreign lines (not ours): each must come back byte for byte.
FOREIGN = [
    b"latin-1 caf\xe9",
    b"crlf line\r",
    b"split\x1chere\x1dand\x1ethere \xc2\x85 \xe2\x80\xa8 end",
    b"nul\x00byte",
    b"  indented, trailing blanks  \t",
    b"\x1b[2Jclear screen",
    b"Signed-off-by: Someone <a@b.example>",
]
# Lines that look like ours but must never be read as a trace.
INVALID = [
    b"traces:abc https://ok.example/a https://evil.example/a",
    b"traces:abc javascript:alert(1)",
    b"traces:abc data:text/html,<script>alert(1)</script>",
    b"traces:abc <script>alert(1)</script>",
    b"traces:abc [x](https://evil.example)",
    b"traces:abc https://user:token@evil.example/",
    b"traces:abc https://evil.example/\xe2\x80\xaegnp.exe",
    b"traces:" + b"x" * 129,
    b"traces:a\x1cb",
    b"traces:a\xe9",
    b"traces: spaced",
    b"traces-detach:abc https://ok.example/a",
]
VALID = b"traces:good-1 https://www.traces.com/s/good-1\ntraces:plain_2\r\n"


def raw_note(repo: Path, rev: str, data: bytes, ref: str = "traces") -> None:
    """Write ``data`` as the note, exactly (``-C`` of a blob: no stripspace)."""
    blob = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=repo,
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    git("notes", f"--ref={ref}", "add", "-f", "-C", blob, rev, cwd=repo)


def note_bytes(repo: Path, rev: str = "HEAD") -> bytes:
    return subprocess.run(
        ["git", "notes", "--ref=traces", "show", rev], cwd=repo, capture_output=True, check=True
    ).stdout


HOSTILE_NOTE = b"\n".join(FOREIGN + INVALID) + b"\n" + VALID


# --- the parser -------------------------------------------------------------------


def test_parse_reads_only_checked_traces_and_keeps_everything_else() -> None:
    text = note_format.decode(HOSTILE_NOTE)
    lines = note_format.parse(text)
    assert [line.kind for line in lines] == (
        ["other"] * len(FOREIGN) + ["invalid"] * len(INVALID) + ["trace", "trace"]
    )
    assert [note_format.encode(line.raw) for line in lines[: len(FOREIGN)]] == FOREIGN
    assert note_format.attached(text) == [
        note_format.TraceRef("good-1", "https://www.traces.com/s/good-1"),
        note_format.TraceRef("plain_2"),
    ]
    assert note_format.count_invalid(text) == len(INVALID)


def test_a_one_megabyte_line_is_kept_and_never_a_trace() -> None:
    huge = "traces:" + "a" * 1_000_000
    text = f"{huge}\ntraces:ok\n"
    assert note_format.attached(text) == [note_format.TraceRef("ok")]
    added = note_format.with_traces(text, [note_format.TraceRef("new")])
    assert added == f"{huge}\ntraces:ok\ntraces:new\n"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.traces.com/s/abc",
        "http://127.0.0.1:8080/s/a?b=1&c=2#x",
        "HTTPS://X.EXAMPLE",
        "https://[::1]:443/a",
    ],
)
def test_valid_urls(url: str) -> None:
    assert note_format.is_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://x.example/",
        "https://",
        "https:///a",
        "https://x.example/a b",
        "https://x.example/\n",
        "https://user:pw@x.example/",
        "https://github.com@evil.example/",
        "https://x.example/<script>",
        "//x.example/a",
        "https://x.example/\u202e",
        "https://exa\u00e9mple/",
        "https://x.example:99999999/",
        "https://" + "a" * 3000,
        "https://.evil/",
        42,
        None,
    ],
)
def test_invalid_urls(url: object) -> None:
    assert not note_format.is_url(url)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=60),
            st.builds(
                lambda i, u: b"traces:" + i + u,
                st.binary(max_size=20),
                st.sampled_from([b"", b" https://x.example/a", b" \x00", b" javascript:x", b"\r"]),
            ),
        ),
        max_size=8,
    ),
    st.lists(st.text(alphabet="ab_-\x1c", min_size=0, max_size=4), max_size=3),
)
def test_property_parse_write_keeps_foreign_lines_and_yields_only_checked_traces(
    chunks: list[bytes], new_ids: list[str]
) -> None:
    data = b"\n".join(chunks)
    text = note_format.decode(data)
    parsed = note_format.parse(text)
    foreign = [line.raw for line in parsed if line.kind in ("other", "invalid")]
    assert note_format.encode(note_format.write(parsed)).split(b"\n")[:-1] == [
        piece for piece in data.split(b"\n") if piece
    ]
    for ref in note_format.attached(text):
        assert note_format.is_trace_id(ref.id)
        assert ref.url is None or note_format.is_url(ref.url)
    refs = [note_format.TraceRef(i, "https://x.example/" + i) for i in new_ids]
    for rewritten in (note_format.with_traces(text, refs), note_format.union(text, text)):
        if rewritten is None:
            continue
        lines = note_format.encode(rewritten).split(b"\n")
        for raw in foreign:
            assert note_format.encode(raw) in lines
        for line in note_format.parse(rewritten):
            if line.kind == "trace":
                assert note_format.is_trace_id(line.id)


def test_writers_check_every_value() -> None:
    refs = [
        note_format.TraceRef("ok", "https://x.example/a b\ntraces:injected https://e.example/p"),
        note_format.TraceRef("bad id\ntraces:x"),
        note_format.TraceRef("u", "javascript:x"),
    ]
    assert note_format.with_traces(None, refs) == "traces:ok\ntraces:u\n"
    with pytest.raises(ValueError):
        note_format.with_detached(None, "a\nb")


# --- the upload answer path -------------------------------------------------------


def test_an_upload_answer_cannot_write_note_lines(tmp_path: Path) -> None:
    config = Config.load(str(tmp_path))
    hostile = {"id": "srv https://evil.example/a\ntraces:injected https://evil.example/p"}
    assert upload.shared_url(config, hostile) is None
    assert upload.shared_url(config, {"id": "srv-1"}).endswith("/s/srv-1")
    old = "traces:abc\n"
    url = "https://www.traces.com/s/x https://evil.example/a\ntraces:injected"
    assert notes.with_traces(old, [notes.TraceRef("abc", url)]) is None
    assert notes.attached(old) == [notes.TraceRef("abc")]


# --- attach, detach, the hook's writer, merge: bytes kept ---------------------------


@pytest.fixture
def hostile_repo(tmp_path: Path) -> tuple[Path, str]:
    repo = init_repo(tmp_path / "work")
    sha = commit_file(repo, "a.txt", message="see https://subject-link.example/login \x1b[2J")
    raw_note(repo, sha, HOSTILE_NOTE)
    return repo, sha


def test_attach_and_detach_keep_foreign_lines_byte_for_byte(hostile_repo) -> None:
    repo, sha = hostile_repo
    out = traces_git("attach", "new-1", "--url", "https://x.example/n", cwd=repo)
    assert out.stdout == f"attached: new-1 to {sha[:12]}\n"
    assert note_bytes(repo) == HOSTILE_NOTE + b"traces:new-1 https://x.example/n\n"
    traces_git("detach", "good-1", cwd=repo)
    assert note_bytes(repo) == HOSTILE_NOTE + (
        b"traces:new-1 https://x.example/n\ntraces-detach:good-1\n"
    )
    bad = traces_git("attach", "new-2", "--url", "javascript:alert(1)", cwd=repo)
    assert bad.stderr == (
        "traces-git: warning: --url dropped, not an absolute http(s) URL "
        "without spaces, controls or credentials: javascript:alert(1)\n"
    )
    assert note_bytes(repo).endswith(b"traces-detach:good-1\ntraces:new-2\n")
    refused = traces_git("attach", "x" * 129, cwd=repo, check=False)
    assert refused.returncode == 2 and "not a trace ID" in refused.stderr


def test_the_hooks_writer_keeps_foreign_bytes(hostile_repo) -> None:
    repo, sha = hostile_repo
    common = git("rev-parse", "--git-common-dir", cwd=repo).stdout.strip()
    changed = notes.update_one_with_git(
        str(repo),
        sha,
        lambda old: notes.with_traces(old, [notes.TraceRef("hook-1")]),
        message="test",
        lock_path=str(repo / common / "lock"),
    )
    assert changed is not None
    assert note_bytes(repo) == HOSTILE_NOTE + b"traces:hook-1\n"


def test_merge_union_keeps_foreign_bytes() -> None:
    ours = note_format.decode(b"crlf\r\ntraces:a\n")
    theirs = note_format.decode(b"caf\xe9\x1cx\ntraces:a\n")
    merged = note_format.encode(note_format.union(ours, theirs))
    assert merged == b"caf\xe9\x1cx\ncrlf\r\ntraces:a\n"


# --- show, log: exact output ------------------------------------------------------


def test_show_and_log_read_only_checked_traces(hostile_repo) -> None:
    repo, sha = hostile_repo
    shown = traces_git("show", cwd=repo).stdout
    assert shown == (f"{sha[:12]}  good-1  https://www.traces.com/s/good-1\n{sha[:12]}  plain_2\n")
    as_json = json.loads(traces_git("show", "--json", cwd=repo).stdout)
    assert as_json["traces"] == [
        {"id": "good-1", "url": "https://www.traces.com/s/good-1"},
        {"id": "plain_2", "url": None},
    ]
    logged = traces_git("log", cwd=repo).stdout
    assert logged == (
        f"{sha[:12]} see https://subject-link.example/login \n"
        f"    good-1  https://www.traces.com/s/good-1\n    plain_2\n"
    )
    log_json = json.loads(traces_git("log", "--json", cwd=repo).stdout)
    assert log_json["commits"][0]["subject"] == "see https://subject-link.example/login "


# --- rendering --------------------------------------------------------------------


def test_terminal_text_loses_escapes_controls_and_bidi() -> None:
    title = (
        "a\x1b[2Jb\x1b]8;;https://evil.example\x07c\x1b]0;t\x1b\\d\u202eevil\u2066\x00\x9b31m\ne"
    )
    assert safe_text.for_terminal(title) == "abcdevil e"
    assert safe_text.for_terminal("x\udce9y") == "x\ufffdy"


def test_blame_legend_and_explain_render_safe_text() -> None:
    legend = blame_render.legend(
        [
            {
                "id": "t1",
                "lines": 2,
                "agent": "cla\x1b[31mude",
                "title": "fix\u202e\x1b[2J it",
                "url": None,
            }
        ],
        colour=False,
    )
    assert legend == "t1  2 lines  claude  fix it\n"
    rendered = explain.render(
        {
            "commit": "c" * 40,
            "source": "re-run",
            "note": [],
            "hints_ignored": [
                {"variable": "TRACES_TRACE_ID", "value": "x\x1b[2J\ny", "why": "bad"}
            ],
        }
    )
    assert "  ignored TRACES_TRACE_ID=x y: bad" in rendered.splitlines()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


ALLOWED_TAGS = {
    "h3",
    "p",
    "strong",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "details",
    "summary",
}


def _render(markdown: str) -> list[tuple[str, dict]]:
    html = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=cmarkgfm.cmark.Options.CMARK_OPT_UNSAFE
    )
    parser = _Tags()
    parser.feed(html)
    return parser.tags


HOSTILE_TEXTS = [
    "see https://subject-link.example/login",
    "www.subject-link.example",
    "mail a@b.example",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "*em* _em_ **strong** ~~s~~",
    "a | b | c",
    "[link](https://evil.example)",
    "![img](https://evil.example/i.png)",
    "`code` <https://evil.example>",
    "xmpp:foo@bar.example",
    "&lt;b&gt; &#60;i&#62;",
    "\x1b[2J\u202eevil",
    "line\nbreak\r\n| --- |",
    "@someone ping",
    "\\<b\\>",
]


def test_markdown_holds_no_link_tag_or_image_but_checked_urls() -> None:
    commits, traces = [], []
    for i, text in enumerate(HOSTILE_TEXTS):
        sha = f"{i:040x}"
        url = "https://www.traces.com/s/ok" if i == 0 else text
        commits.append({"sha": sha, "subject": text, "traces": [{"id": f"t{i}", "url": None}]})
        traces.append(
            {
                "id": f"t{i}",
                "url": url if note_format.is_url(url) else None,
                "commits": [sha],
                "title": text,
                "agent": text,
            }
        )
    report = {
        "base": "0" * 40,
        "head": "f" * 40,
        "commits": commits,
        "traces": traces,
        "files": [
            {
                "path": text,
                "added": 1,
                "removed": 0,
                "traced_added": 1,
                "traced_removed": 0,
                "binary": False,
                "traces": [f"t{i}"],
            }
            for i, text in enumerate(HOSTILE_TEXTS)
        ],
    }
    markdown = ci_output.render_markdown(report)
    tags = _render(markdown)
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS | {"a"}
    links = [attrs for tag, attrs in tags if tag == "a"]
    assert links == [{"href": "https://www.traces.com/s/ok"}] * 2  # trace table + files table
    assert "\x1b" not in markdown and "\u202e" not in markdown


def test_markdown_stays_under_the_cap_whatever_the_input() -> None:
    long_id = "i" * 128
    traces = [
        {
            "id": f"{long_id[:120]}{n:08d}",
            "url": "https://x.example/" + "p" * 2000,
            "commits": ["a" * 40],
            "title": "t" * 1_000_000,
            "agent": "a" * 5000,
        }
        for n in range(300)
    ]
    commits = [
        {
            "sha": f"{n:040x}",
            "subject": "s" * 1_000_000,
            "traces": [{"id": t["id"], "url": None} for t in traces[:10]],
        }
        for n in range(300)
    ]
    report = {
        "base": None,
        "head": "f" * 40,
        "commits": commits,
        "traces": traces,
        "files": [
            {
                "path": "p" * 10_000,
                "added": 1,
                "removed": 0,
                "traced_added": 1,
                "traced_removed": 0,
                "binary": False,
                "traces": [t["id"] for t in traces],
            }
            for _ in range(300)
        ],
    }
    markdown = ci_output.render_markdown(report)
    assert len(markdown) <= 60_000
    assert re.search(r"^…and \d+ more traces\.$", markdown, re.M)
    assert re.search(r"^…and \d+ more files\.$", markdown, re.M)
    assert re.search(r"^…and \d+ more commits\.$", markdown, re.M)
    assert markdown.endswith("</details>\n")
    assert f"`{'i' * 39}…`" in markdown  # a long ID cut with an ellipsis


# --- ci and sync against odd notes refs ---------------------------------------------


def _push_odd_ref(tmp_path: Path, kind: str) -> tuple[Path, str, str, str]:
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    base = commit_file(work, "a.txt", message="one")
    tip = commit_file(work, "b.txt", message="two")
    git("push", "-q", url, "main", cwd=work)
    if kind == "blob":
        target = (
            subprocess.run(
                ["git", "hash-object", "-w", "--stdin"],
                cwd=remote,
                input=b"traces:evil\n",
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
    elif kind == "tree":
        target = git("rev-parse", f"{tip}^{{tree}}", cwd=work).stdout.strip()
        git("push", "-q", url, f"{tip}:refs/heads/keep", cwd=work)
    else:  # a notes commit whose tree holds a non-fanout directory and a stray file
        raw_note(work, tip, b"traces:real https://x.example/r\n")
        notes_tree = git("rev-parse", "refs/notes/traces^{tree}", cwd=work).stdout.strip()
        blob = git("rev-parse", "HEAD:a.txt", cwd=work).stdout.strip()
        sub = (
            subprocess.run(
                ["git", "mktree"],
                cwd=work,
                input=f"100644 blob {blob}\tx\n".encode(),
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
        listing = git("ls-tree", notes_tree, cwd=work).stdout
        listing += f"040000 tree {sub}\tnot-fanout\n100644 blob {blob}\tREADME\n"
        tree = (
            subprocess.run(
                ["git", "mktree"], cwd=work, input=listing.encode(), capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )
        target = git("commit-tree", tree, "-m", "odd", cwd=work).stdout.strip()
        git("push", "-q", url, f"{target}:refs/heads/odd", cwd=work)
    git("update-ref", "refs/notes/traces", target, cwd=remote)
    return work, url, base, tip


@pytest.mark.parametrize("kind", ["blob", "tree", "entries"])
def test_ci_reports_past_an_odd_notes_ref(tmp_path: Path, kind: str) -> None:
    work, url, base, tip = _push_odd_ref(tmp_path, kind)
    checkout = init_repo(tmp_path / "ci")
    git("remote", "add", "origin", url, cwd=checkout)
    git("fetch", "-q", "origin", "main", cwd=checkout)
    proc = traces_git(
        "ci", "--format", "json", "--base", base, "--head", tip, cwd=checkout, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    what = {
        "blob": "points at a blob, not a notes commit: it is skipped",
        "tree": "points at a tree, not a notes commit: it is skipped",
        "entries": "holds 2 tree entries that are not notes: those entries are skipped",
    }[kind]
    assert proc.stderr == f"traces-git: warning: refs/notes/remotes/origin/traces {what}\n"
    expected = [{"id": "real", "url": "https://x.example/r"}] if kind == "entries" else []
    assert report["commits"][-1]["traces"] == expected


@pytest.mark.parametrize("kind", ["blob", "entries"])
def test_sync_refuses_an_odd_notes_ref_and_loses_nothing(tmp_path: Path, kind: str) -> None:
    work, url, base, tip = _push_odd_ref(tmp_path, kind)
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone))
    first = commit_file(clone, "c.txt", message="three")
    raw_note(clone, first, b"traces:mine\ncaf\xe9\r\n")
    before = git("rev-parse", "refs/notes/traces", cwd=clone).stdout
    proc = traces_git("sync", cwd=clone, check=False)
    what = {
        "blob": "points at a blob, not a notes commit",
        "entries": "holds 2 tree entries that are not notes",
    }[kind]
    assert proc.returncode == 1
    assert proc.stderr.endswith(
        f"notes sync with origin failed: origin's refs/notes/traces "
        f"{what}: not merged (local notes unchanged)\n"
    )
    assert git("rev-parse", "refs/notes/traces", cwd=clone).stdout == before
    assert note_bytes(clone, first) == b"traces:mine\ncaf\xe9\r\n"


def test_read_helpers_skip_a_blob_ref(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    sha = commit_file(repo)
    blob = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=repo,
            input=b"x",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    git("update-ref", "refs/notes/traces", blob, cwd=repo)
    import pygit2

    pyrepo = pygit2.Repository(str(repo))
    assert notes.read_note(pyrepo, sha) is None and notes.read_all(pyrepo) == {}
    assert ci.odd_ref_warnings(pyrepo, ["refs/notes/traces"]) == [
        "refs/notes/traces points at a blob, not a notes commit: it is skipped"
    ]
    status = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert status["notes_format"]["problems"][0]["id"] == "odd-notes-ref"
    refused = traces_git("attach", "abc", cwd=repo, check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        (
            "traces-git: refs/notes/traces points at a blob, not a notes commit: nothing written "
            "(see `git cat-file -t refs/notes/traces`)\n"
        ),
    )
    assert git("rev-parse", "refs/notes/traces", cwd=repo).stdout.strip() == blob
    assert head(repo) == sha and os.path.isdir(repo)


# --- blame, stats, explain through the command line -------------------------------------


def test_blame_stats_and_explain_with_a_hostile_note_and_store(tmp_path: Path, store) -> None:
    repo = init_repo(tmp_path / "views")
    sha = commit_file(repo, "f.txt", "one\ntwo\n", "add \x1b[2J\u202ef")
    raw_note(repo, sha, HOSTILE_NOTE)
    store.add_trace(
        "good-1",
        repo,
        agent="cla\x1b[31mude",
        title="fix\u202e\x1b]0;pwned\x07 it",
        shared_url="javascript:alert(1)",
    )
    store.add_trace(
        "plain_2", repo, agent="codex", title="t" * 5000, shared_url="https://x.example/a b"
    )

    blame = json.loads(traces_git("blame", "--json", "f.txt", cwd=repo).stdout)
    by_id = {t["id"]: t for t in blame["traces"]}
    assert sorted(by_id) == ["good-1", "plain_2"]
    assert by_id["good-1"]["url"] == "https://www.traces.com/s/good-1"
    assert by_id["good-1"]["agent"] == "claude" and by_id["good-1"]["title"] == "fix it"
    assert by_id["plain_2"]["url"] is None  # the store's URL failed the check
    assert by_id["plain_2"]["title"] == "t" * 999 + "…"
    text = traces_git("blame", "f.txt", cwd=repo).stdout
    assert "\x1b" not in text and "\u202e" not in text
    assert (
        f"good-1   2 lines  claude  fix it{' ' * 994}  https://www.traces.com/s/good-1"
        in text.splitlines()
    )

    stats = json.loads(traces_git("stats", "--json", "HEAD", cwd=repo).stdout)
    assert sorted(t["id"] for t in stats["traces"]) == ["good-1", "plain_2"]
    assert {t["id"]: t["url"] for t in stats["traces"]} == {
        "good-1": "https://www.traces.com/s/good-1",
        "plain_2": None,
    }
    stats_text = traces_git("stats", "HEAD", cwd=repo).stdout
    assert "  claude: 1 commit, +2 -0 (good-1)" in stats_text.splitlines()
    assert "\x1b" not in stats_text

    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    assert explained["note"] == [
        {"id": "good-1", "url": "https://www.traces.com/s/good-1"},
        {"id": "plain_2", "url": None},
    ]
    assert "  in its note: good-1, plain_2" in traces_git("explain", cwd=repo).stdout.splitlines()


def test_ci_json_and_markdown_from_a_hostile_note(hostile_repo) -> None:
    repo, sha = hostile_repo
    first = commit_file(repo, "b.txt", message="www.evil.example <b>x</b> a@b.example")
    raw_note(repo, first, HOSTILE_NOTE)
    report = json.loads(
        traces_git(
            "ci", "--no-fetch", "--format", "json", "--base", sha, "--head", first, cwd=repo
        ).stdout
    )
    assert report["commits"] == [
        {
            "sha": first,
            "subject": "www.evil.example <b>x</b> a@b.example",
            "traces": [
                {"id": "good-1", "url": "https://www.traces.com/s/good-1"},
                {"id": "plain_2", "url": None},
            ],
        }
    ]
    markdown = traces_git("ci", "--no-fetch", "--base", sha, "--head", first, cwd=repo).stdout
    assert (
        f"| `{first[:7]}` | www\\.evil\\.example \\<b\\>x\\<\\/b\\> a\\@\u2060b\\.example | "
        "`good-1`, `plain_2` |"
    ) in markdown.splitlines()
    links = [attrs for tag, attrs in _render(markdown) if tag == "a"]
    assert links == [{"href": "https://www.traces.com/s/good-1"}] * 2


# --- the upload answer path, end to end --------------------------------------------------


@pytest.fixture
def api(monkeypatch):
    from tests.helpers.upload import serve

    yield from serve(monkeypatch)


def test_a_hostile_upload_answer_writes_the_id_alone(repo, store, api) -> None:
    from tests.helpers import note
    from tests.helpers.upload import log_text, wait_worker_done

    api.traces["t-evil"] = {
        "meta": {},
        "messages": {},
        "id": "srv https://evil.example/a\ntraces:injected https://e.example/p",
    }
    store.add_trace("t-evil", repo, edits=[repo / "app.py"], messages=1)
    sha = commit_file(repo, "app.py")
    wait_worker_done()
    assert [r.path for r in api.of("PUT")] == ["/v1/traces/t-evil"]
    assert note(repo, sha) == "traces:t-evil\n"
    assert traces_git("show", "--json", cwd=repo).stdout == (
        f'{{"commit": "{sha}", "traces": [{{"id": "t-evil", "url": null}}]}}\n'
    )
    assert log_text().count("dropped a URL from the upload answer") == 1


def test_amend_carries_a_hostile_note_byte_for_byte(repo) -> None:
    # Without the NUL line: git's own cat_sort_uniq (notes.rewriteMode, which does this
    # copy) reads a note as a C string and cuts it at a NUL (docs/sync.md, known limits).
    hostile = HOSTILE_NOTE.replace(b"nul\x00byte\n", b"")
    sha = commit_file(repo, "a.txt", message="one")
    raw_note(repo, sha, hostile)
    (repo / "a.txt").write_text("changed\n")
    git(
        "commit",
        "-q",
        "-a",
        "--amend",
        "-m",
        "one, amended",
        cwd=repo,
        env={"TRACES_TRACE_ID": "beta"},
    )
    amended = head(repo)
    assert amended != sha
    expected = note_format.union(note_format.decode(hostile), "traces:beta\n")
    assert note_bytes(repo, amended) == note_format.encode(expected)
    assert [r.id for r in notes.attached(expected)] == ["beta", "good-1", "plain_2"]


def test_stats_shows_a_hostile_path_without_its_escape_sequence(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "paths")
    sha = commit_file(repo, "e\x1b[2Jx.txt", "one\n", "add")
    raw_note(repo, sha, b"traces:t1\n")
    text = traces_git("stats", "HEAD", cwd=repo).stdout
    assert "\x1b" not in text
    assert text.splitlines()[3].startswith("ex.txt        1")
    stats = json.loads(traces_git("stats", "--json", "HEAD", cwd=repo).stdout)
    assert stats["files"][0]["path"] == "e\x1b[2Jx.txt"  # JSON keeps the exact path


def test_status_and_doctor_count_invalid_trace_lines(hostile_repo) -> None:
    repo, _ = hostile_repo
    status = json.loads(traces_git("status", "--json", cwd=repo).stdout)["notes_format"]
    assert (status["notes"], status["checked"], status["invalid_lines"]) == (1, 1, len(INVALID))
    assert (
        f"notes: 1 note(s), {len(INVALID)} invalid trace line(s)"
        in traces_git("status", cwd=repo).stdout.splitlines()
    )
    doctor = traces_git("doctor", cwd=repo, check=False).stdout
    assert (
        f"problem: {len(INVALID)} line(s) in refs/notes/traces look like trace lines but "
        "are not (bad ID or URL): kept as they are, never read as traces"
    ) in doctor


def test_ci_markdown_from_huge_notes_stays_under_the_cap(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "huge")
    base = commit_file(repo, "a.txt", message="base")
    tip = commit_file(repo, "b.txt", message="s" * 100_000)
    lines = [
        b"traces:" + b"x" * 1_000_000,
        b"traces:" + b"i" * 128 + b" https://x.example/" + b"p" * 2000,
    ]
    lines += [b"traces:t%03d https://x.example/%s" % (n, b"q" * 2000) for n in range(300)]
    raw_note(repo, tip, b"\n".join(lines) + b"\n")
    markdown = traces_git("ci", "--no-fetch", "--base", base, "--head", tip, cwd=repo).stdout
    assert len(markdown) <= 60_000
    assert "**301 traces** on 1 of 1 commit" in markdown
    assert re.search(r"^…and \d+ more traces\.$", markdown, re.M)
    report = json.loads(
        traces_git("ci", "--no-fetch", "--json", "--base", base, "--head", tip, cwd=repo).stdout
    )
    assert len(report["traces"]) == 301 and len(report["commits"][0]["subject"]) == 1000
