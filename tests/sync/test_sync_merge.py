"""notes.merge_from: cat_sort_uniq merges of notes commits, on real repositories."""

from __future__ import annotations

import pygit2
import pytest

from tests.helpers import commit_file, git, init_repo
from traces_git.notes import core as notes

OTHER = "refs/notes/other"


@pytest.fixture
def work(tmp_path):
    repo = init_repo(tmp_path / "m")
    shas = [commit_file(repo, f"f{i}.txt", f"{i}\n", f"c{i}") for i in range(6)]
    return repo, shas


def _add(repo, sha, text, ref="refs/notes/traces"):
    git("notes", f"--ref={ref}", "add", "-f", "-m", text, sha, cwd=repo)


def _show(repo, sha, ref="refs/notes/traces"):
    proc = git("notes", f"--ref={ref}", "show", sha, cwd=repo, check=False)
    return proc.stdout if proc.returncode == 0 else None


def _merge(repo, ref=OTHER):
    pyrepo = pygit2.Repository(str(repo))
    other = pyrepo.references.get(ref).target
    return notes.merge_from(pyrepo, str(other), message="merge test"), str(other)


def test_created_up_to_date_and_fast_forward(work):
    repo, shas = work
    _add(repo, shas[0], "traces:a", OTHER)
    result, other = _merge(repo)
    assert result["result"] == "created" and _show(repo, shas[0]) == "traces:a\n"
    assert _merge(repo)[0]["result"] == "up-to-date"
    _add(repo, shas[1], "traces:b", OTHER)
    result, other = _merge(repo)
    assert result == {"result": "fast-forward", "commit": other, "changed": 1}
    assert git("rev-parse", "refs/notes/traces", cwd=repo).stdout.strip() == other
    _add(repo, shas[2], "traces:local")  # ours ahead of the other: nothing to do
    assert _merge(repo)[0]["result"] == "up-to-date"


def test_three_way_union_never_drops_a_note(work):
    repo, shas = work
    _add(repo, shas[0], "traces:base")
    _add(repo, shas[3], "traces:gone-elsewhere")
    _add(repo, shas[4], "traces:old")
    git("update-ref", OTHER, "refs/notes/traces", cwd=repo)  # the shared base
    # ours
    _add(repo, shas[0], "traces:base\ntraces:ours")
    _add(repo, shas[1], "traces:only-ours")
    # theirs
    _add(repo, shas[0], "traces:base\ntraces:theirs", OTHER)
    _add(repo, shas[2], "traces:only-theirs", OTHER)
    git("notes", f"--ref={OTHER}", "remove", shas[3], cwd=repo)
    _add(repo, shas[4], "traces:old\ntraces:newer-upstream", OTHER)

    ours_before = git("rev-parse", "refs/notes/traces", cwd=repo).stdout.strip()
    result, other = _merge(repo)
    assert result["result"] == "merged"
    assert _show(repo, shas[0]) == "traces:base\ntraces:ours\ntraces:theirs\n"
    assert _show(repo, shas[1]) == "traces:only-ours\n"
    assert _show(repo, shas[2]) == "traces:only-theirs\n"
    assert _show(repo, shas[3]) == "traces:gone-elsewhere\n"  # a merge never removes
    assert _show(repo, shas[4]) == "traces:old\ntraces:newer-upstream\n"  # only they changed it
    merged = git("rev-parse", "refs/notes/traces", cwd=repo).stdout.strip()
    parents = git("rev-list", "--parents", "-n", "1", merged, cwd=repo).stdout.split()[1:]
    assert parents == [ours_before, other]
    # The merge descends from theirs: pushing it there would be a fast-forward.
    assert git("merge-base", "--is-ancestor", other, merged, cwd=repo, check=False).returncode == 0
    # git itself reads the result (fsck-clean, notes list complete)
    git("fsck", "--no-progress", cwd=repo)
    assert len(git("notes", "--ref=traces", "list", cwd=repo).stdout.splitlines()) == 5


def test_unrelated_histories_union_everything(work):
    repo, shas = work
    _add(repo, shas[0], "traces:x\ntraces:y")
    _add(repo, shas[0], "traces:y\ntraces:z", OTHER)  # no common history at all
    _add(repo, shas[1], "traces:w", OTHER)
    result, _other = _merge(repo)
    assert result["result"] == "merged"
    assert _show(repo, shas[0]) == "traces:x\ntraces:y\ntraces:z\n"
    assert _show(repo, shas[1]) == "traces:w\n"


def test_merge_into_git_fanned_out_tree(tmp_path):
    """Theirs written by git with 2/38 fanout (300 notes), ours a flat pygit2 tree."""
    repo = init_repo(tmp_path / "fan")
    lines = []
    marks = []
    for i in range(300):
        lines += [
            "commit refs/heads/many",
            f"mark :{i + 1}",
            "committer T <t@e> 1600000000 +0000",
            "data 2",
            f"{i % 10}\n"[:2],
        ]
        if i:
            lines.append(f"from :{i}")
        marks.append(f":{i + 1}")
    lines += ["commit refs/notes/other", "committer T <t@e> 1600000000 +0000", "data 2", "n\n"[:2]]
    for i, mark in enumerate(marks):
        lines += [f"N inline {mark}", f"data {len(f'traces:t{i}')}", f"traces:t{i}"]
    git("fast-import", "--quiet", cwd=repo, input=("\n".join(lines) + "\n").encode())
    shas = git("rev-list", "--reverse", "many", cwd=repo).stdout.split()
    pyrepo = pygit2.Repository(str(repo))
    assert notes.fanout_depth(pyrepo, OTHER) >= 1
    # ours: three flat notes, one on a commit theirs also annotated
    notes.update(
        pyrepo,
        {shas[5]: lambda old: "traces:ours-5\n", shas[299]: lambda old: "traces:ours-299\n"},
        message="ours",
    )
    result, _other = _merge(repo)
    assert result["result"] == "merged"
    listed = git("notes", "--ref=traces", "list", cwd=repo).stdout.splitlines()
    assert len(listed) == 300
    assert _show(repo, shas[5]) == "traces:ours-5\ntraces:t5\n"
    assert _show(repo, shas[299]) == "traces:ours-299\ntraces:t299\n"
    assert _show(repo, shas[100]) == "traces:t100"  # theirs, byte for byte
    assert notes.fanout_depth(pygit2.Repository(str(repo))) >= 1
