"""Many refs (issue 18, d): no hook of ours runs for ref updates; where a repository's own
reference-transaction hook is chained (`install --repo`), the dispatcher hands it the
same bytes for a transaction of thousands of refs, and the notes such a fetch brings are
merged by the next hook. (Speed: bench/many_refs.py, docs/benchmarks.md.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.helpers import commit_file, git, head, init_repo, note_ids, traces_git
from tests.helpers.sync import wait_fetched

TAGS = 3000


def _with_tags(path: Path, count: int) -> str:
    repo = init_repo(path)
    sha = commit_file(repo, "a.txt")
    lines = "".join(f"create refs/tags/t{i:05d} {sha}\n" for i in range(count))
    git("-c", "core.hooksPath=/dev/null", "update-ref", "--stdin", cwd=repo, input=lines.encode())
    return sha


def test_a_big_transaction_still_brings_our_notes_and_chains_byte_for_byte(tmp_path, installed):
    source = tmp_path / "source"
    sha = _with_tags(source, TAGS)
    git("notes", "--ref=traces", "add", "-m", "traces:from-source", sha, cwd=source)
    clone = tmp_path / "clone"
    git("clone", "-q", "--no-tags", str(source), str(clone))
    commit_file(clone, "b.txt")  # the hooks configure the notes refspec
    spec = git("config", "--get-all", "remote.origin.fetch", cwd=clone).stdout
    assert "refs/notes/traces*" in spec
    # a chained hook of the repository's own, recording what it read
    chained = clone / ".git" / "hooks" / "reference-transaction"
    chained.write_text(  # keeps the big transaction (not a background notes fetch's)
        '#!/bin/sh\n[ "$1" = committed ] || exit 0\n'
        'f="$(git rev-parse --git-dir)/in.$$"\ncat > "$f"\n'
        'if [ "$(wc -l < "$f")" -gt 100 ]; then mv "$f" "${f%/*}/seen-by-hook"; '
        'else rm -f "$f"; fi\n'
    )
    chained.chmod(0o755)
    traces_git("install", "--repo", cwd=clone)  # the way to chain it (docs/install.md)
    git(
        "fetch",
        "-q",
        "--atomic",
        "origin",
        "+refs/tags/*:refs/tags/*",
        "+refs/notes/traces*:refs/notes/remotes/origin/traces*",
        cwd=clone,
    )
    seen = (clone / ".git" / "seen-by-hook").read_bytes()
    assert seen.count(b"\n") == TAGS + 1 and b"refs/notes/remotes/origin/traces\n" in seen
    # git gave the chained hook, through us, what it gives a hook it runs itself
    direct = tmp_path / "direct"
    git("-c", "core.hooksPath=/dev/null", "clone", "-q", "--no-tags", str(source), str(direct))
    hooks = direct / ".git" / "hooks"
    (hooks / "reference-transaction").write_bytes(chained.read_bytes())
    (hooks / "reference-transaction").chmod(0o755)
    git(
        "-c",
        f"core.hooksPath={hooks}",
        "fetch",
        "-q",
        "--atomic",
        "origin",
        "+refs/tags/*:refs/tags/*",
        "+refs/notes/traces*:refs/notes/remotes/origin/traces*",
        cwd=direct,
    )
    theirs = (direct / ".git" / "seen-by-hook").read_bytes()
    assert hashlib.sha256(seen).digest() == hashlib.sha256(theirs).digest()
    # and the next hook merged the notes ref that came among the thousands into ours
    git("checkout", "-q", "HEAD", cwd=clone)
    wait_fetched(clone)
    assert note_ids(clone, sha) == ["from-source"]
    assert head(clone)


def test_clone_of_many_tags_sets_up_notes(tmp_path, installed):
    source = tmp_path / "source"
    sha = _with_tags(source, TAGS)
    git("notes", "--ref=traces", "add", "-m", "traces:cloned", sha, cwd=source)
    clone = tmp_path / "clone"
    proc = git("clone", "-q", str(source), str(clone))
    assert proc.stdout == "" and proc.stderr == ""
    assert len(git("tag", cwd=clone).stdout.split()) == TAGS
    assert (
        "refs/notes/traces*" in git("config", "--get-all", "remote.origin.fetch", cwd=clone).stdout
    )
