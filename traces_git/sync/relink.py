"""``traces-git relink``: carry traces over to commits a host's squash or rebase merge made.

A hosted merge writes new commits that carry no note. When such a commit's
change equals the change of commits that do carry notes, it gets the union of
their traces and a provenance line::

    traces:<id> ...
    traces-relinked: <sha of an original commit> <sha> ...

Matching is by content only, never by commit message or author:

1. ``patch-id``: the commit's ``git patch-id --stable`` equals one noted
   commit's (a rebase merge, a merge-queue rebuild, a cherry-pick);
2. ``range patch-id``: it equals the patch-id of a noted branch's combined
   change, fork point to tip (a squash merge);
3. ``added lines``: at least ``THRESHOLD`` of the commit's added lines are added
   by one such group, and at least ``THRESHOLD`` of the group's added lines are
   in the commit (a squash with a conflict resolution or a last-minute fix).
   Only for commits that add at least ``MIN_FUZZY_LINES`` non-blank lines.

The noted commits considered ("sources") are those still in the clone (a
branch, a remote-tracking ref, the reflog keep them) that are not ancestors of
the new commits: commits already merged normally keep their own notes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from traces_git import gitcmd
from traces_git.notes import core as notes

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pygit2

PROVENANCE = "traces-relinked:"
# Share of added lines that must agree, both ways, for a match by added lines.
THRESHOLD = 0.9
# A commit adding fewer non-blank lines is relinked by an exact patch-id match only.
MIN_FUZZY_LINES = 10
# Bounds: commits looked at per run, noted commits considered, branch tips tried.
MAX_CANDIDATES = 10_000
MAX_SOURCES = 5_000
MAX_GROUPS = 300
MAX_GROUP_COMMITS = 1_000
MAX_HEADS = 20
MAX_TIP_SEARCH = 5_000  # candidates handed to `git merge-base --independent` (argv size)


@dataclass(frozen=True)
class Match:
    """A new commit and the noted commits whose traces it gets."""

    commit: str
    sources: tuple[str, ...]
    how: str  # "patch-id", "range patch-id", "added lines"
    score: float  # 1.0 for patch-id matches; the lower of the two shares otherwise
    traces: tuple[notes.TraceRef, ...]

    def as_json(self) -> dict:
        return {
            "commit": self.commit,
            "sources": list(self.sources),
            "how": self.how,
            "score": round(self.score, 4),
            "traces": [t.as_json() for t in self.traces],
        }


@dataclass
class Result:
    candidates: int = 0
    sources: int = 0
    matches: list[Match] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict:
        return {
            "candidates": self.candidates,
            "sources": self.sources,
            "matches": [m.as_json() for m in self.matches],
            "written": self.written,
            "dry_run": self.dry_run,
        }


def provenance_line(sources: Iterable[str]) -> str:
    return f"{PROVENANCE} " + " ".join(sorted(set(sources)))


def relinked_from(text: str | None) -> list[str]:
    """The original commits a note's provenance lines name (for ``explain``)."""
    found: list[str] = []
    for line in (text or "").splitlines():
        words = line.strip().split()
        if words[:1] == [PROVENANCE]:
            found += [w for w in words[1:] if _is_sha(w) and w not in found]
    return found


def _is_sha(word: str) -> bool:
    return len(word) in (40, 64) and all(c in "0123456789abcdef" for c in word)


def with_relink(text: str | None, match: Match) -> str | None:
    """The note with the match's traces and a provenance line; None when nothing changes."""
    new = notes.with_traces(text, match.traces)
    if new is None:
        return None
    return new.rstrip("\n") + "\n" + provenance_line(match.sources) + "\n"


# --- reading the clone ------------------------------------------------------------


def rev_list(cwd: str, args: Sequence[str], limit: int = MAX_CANDIDATES) -> list[str]:
    """Non-merge commits of a rev-list range (newest first, at most ``limit``).

    The revisions go through stdin: the relink after a fetch excludes every
    remote-tracking tip, more than a command line holds (ARG_MAX) in a big repository."""
    options = [arg for arg in args if arg.startswith("-")]
    revisions = "".join(f"{arg}\n" for arg in args if not arg.startswith("-"))
    proc = gitcmd.run(
        ["rev-list", "--no-merges", f"--max-count={limit}", *options, "--stdin"],
        cwd,
        check=False,
        input=revisions.encode("utf-8", "surrogateescape"),
    )
    if proc.returncode != 0:
        from traces_git.errors import UsageError

        raise UsageError(f"not a commit range: {' '.join(args)}")
    return proc.stdout.decode().split()


def unmerged_sources(cwd: str, noted: Iterable[str], heads: Sequence[str]) -> list[str]:
    """The noted commits present in the clone that are not ancestors of ``heads``."""
    noted = _commits_only(cwd, [sha for sha in noted if _is_sha(sha)])
    if not noted:
        return []
    # --ignore-missing: a note may name a commit this clone never had (or has lost).
    args = ["rev-list", "--ignore-missing", "--stdin"]
    stdin = "\n".join(noted) + "\n" + "".join(f"^{h}\n" for h in heads)
    proc = gitcmd.run(args, cwd, check=False, input=stdin.encode())
    if proc.returncode != 0:
        return []
    reachable = set(proc.stdout.decode().split())
    found = [sha for sha in noted if sha in reachable]
    return found[:MAX_SOURCES]


def _commits_only(cwd: str, shas: list[str]) -> list[str]:
    """The shas naming a commit in this clone (a note may sit on a blob, or on nothing here)."""
    if not shas:
        return []
    proc = gitcmd.run(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        cwd,
        check=False,
        input=("\n".join(shas) + "\n").encode(),
    )
    kinds = dict(
        line.split(" ", 1) for line in proc.stdout.decode().splitlines() if line.count(" ") == 1
    )
    return [sha for sha in shas if kinds.get(sha) == "commit"]


def _diffs(cwd: str, lines: Sequence[str]) -> dict[str, str]:
    """{sha: its diff} for ``diff-tree --stdin`` input lines ("<commit>" or "<tip> <base>")."""
    if not lines:
        return {}
    proc = gitcmd.run(
        [
            "diff-tree",
            "--stdin",
            "-p",
            "--root",
            "--no-renames",
            "--full-index",
            "--no-textconv",
            "--no-ext-diff",
        ],
        cwd,
        input=("\n".join(lines) + "\n").encode(),
    )
    text = proc.stdout.decode("utf-8", "surrogateescape")
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if _is_sha(stripped):
            current = result.setdefault(stripped, [])
            continue
        if current is not None:
            current.append(line)
    return {sha: "".join(parts) for sha, parts in result.items()}


def _patch_ids(cwd: str, diffs: Mapping[str, str]) -> dict[str, str]:
    if not diffs:
        return {}
    stream = "".join(f"{sha}\n{diff}" for sha, diff in diffs.items() if diff)
    proc = gitcmd.run(
        ["patch-id", "--stable"], cwd, input=stream.encode("utf-8", "surrogateescape")
    )
    found = {}
    for line in proc.stdout.decode().splitlines():
        words = line.split()
        if len(words) == 2:
            found[words[1]] = words[0]
    return found


def added_lines(diff: str) -> Counter:
    """The non-blank lines a diff adds, as (path, stripped line) with counts."""
    added: Counter = Counter()
    path = ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[4:].removeprefix("b/")
        elif line.startswith("+") and not line.startswith("+++"):
            text = line[1:].strip()
            if text:
                added[(path, text)] += 1
    return added


# --- matching ---------------------------------------------------------------------


@dataclass
class _Group:
    tip: str
    base: str
    members: tuple[str, ...]


def _groups(
    repo: pygit2.Repository,
    sources: Sequence[str],
    heads: Sequence[str],
    tips: Iterable[str],
    known: Sequence[tuple[str, str]] = (),
) -> list[_Group]:
    """Branches of noted commits: fork point (with a head) .. tip, with their noted members.

    ``known``: (tip, base) pairs given by the caller (a pull request's range).
    """
    import pygit2

    source_set = set(sources)
    pairs: dict[tuple[str, str], None] = dict.fromkeys(known)
    for tip in [*sources, *tips]:
        for head in heads:
            try:
                base = repo.merge_base(tip, head)
            except (pygit2.GitError, ValueError, KeyError):
                continue
            if base is not None and str(base) != tip:
                pairs[(tip, str(base))] = None
        if len(pairs) >= MAX_GROUPS:
            break
    groups: list[_Group] = []
    for tip, base in pairs:
        members: list[str] = []
        try:
            walker = repo.walk(tip, pygit2.enums.SortMode.TOPOLOGICAL)
            walker.hide(base)
            for count, commit in enumerate(walker):
                if count >= MAX_GROUP_COMMITS:
                    members = []
                    break
                if str(commit.id) in source_set:
                    members.append(str(commit.id))
        except (pygit2.GitError, ValueError, KeyError):
            continue
        if members:  # oldest first: the traces keep the branch's order
            groups.append(_Group(tip, base, tuple(reversed(members))))
    return groups


def _ref_tips(cwd: str) -> list[str]:
    out = gitcmd.out(["for-each-ref", "--format=%(objectname)", "refs/heads", "refs/remotes"], cwd)
    return list(dict.fromkeys(out.split()))


def match(
    cwd: str,
    repo: pygit2.Repository,
    candidates: Sequence[str],
    note_texts: Mapping[str, str],
    heads: Sequence[str],
    *,
    threshold: float = THRESHOLD,
    known: Sequence[tuple[str, str]] = (),
) -> tuple[int, list[Match]]:
    """(sources considered, which ``candidates`` take which noted commits' traces).

    ``known``: (tip, base) ranges to try as a whole besides the ones found.
    """
    sources = unmerged_sources(cwd, note_texts, heads) if candidates else []
    sources = [sha for sha in sources if notes.attached(note_texts.get(sha))]
    if not sources:
        return 0, []
    single = _diffs(cwd, [*candidates, *sources])
    single_ids = _patch_ids(cwd, single)
    by_id: dict[str, list[str]] = {}
    for sha in sources:
        if sha in single_ids:
            by_id.setdefault(single_ids[sha], []).append(sha)
    source_set = set(sources)
    groups = _groups(
        repo,
        sources,
        heads,
        [t for t in _ref_tips(cwd) if t not in source_set and t not in candidates],
        known,
    )
    group_diffs = _diffs(cwd, [f"{g.tip} {g.base}" for g in groups])
    group_ids = _patch_ids(cwd, group_diffs)
    groups_by_id: dict[str, list[_Group]] = {}
    for group in groups:
        if group.tip in group_ids:
            groups_by_id.setdefault(group_ids[group.tip], []).append(group)
    # For added lines: every single source and every group, indexed by line.
    bags: list[tuple[tuple[str, ...], Counter]] = [
        ((sha,), added_lines(single.get(sha, ""))) for sha in sources
    ]
    bags += [(g.members, added_lines(group_diffs.get(g.tip, ""))) for g in groups]
    index: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for number, (_members, bag) in enumerate(bags):
        for key, count in bag.items():
            index.setdefault(key, []).append((number, count))

    matches = []
    for commit in candidates:
        pid = single_ids.get(commit)
        found: tuple[tuple[str, ...], str, float] | None = None
        if pid and pid in by_id:
            found = (tuple(by_id[pid]), "patch-id", 1.0)
        elif pid and pid in groups_by_id:
            members = _union(g.members for g in groups_by_id[pid])
            found = (members, "range patch-id", 1.0)
        else:
            found = _by_added_lines(added_lines(single.get(commit, "")), bags, index, threshold)
        if found is None:
            continue
        members, how, score = found
        refs = _union_traces(note_texts, members)
        if refs:
            matches.append(Match(commit, tuple(sorted(members)), how, score, tuple(refs)))
    return len(sources), matches


def _by_added_lines(
    added: Counter,
    bags: Sequence[tuple[tuple[str, ...], Counter]],
    index: Mapping[tuple[str, str], list[tuple[int, int]]],
    threshold: float,
) -> tuple[tuple[str, ...], str, float] | None:
    total = sum(added.values())
    if total < MIN_FUZZY_LINES:
        return None
    common: Counter = Counter()
    for key, count in added.items():
        for number, theirs in index.get(key, ()):
            common[number] += min(count, theirs)
    best: list[int] = []
    best_score = 0.0
    for number, shared in common.items():
        theirs_total = sum(bags[number][1].values())
        score = min(shared / total, shared / theirs_total if theirs_total else 0.0)
        if score < threshold:
            continue
        if score > best_score:
            best, best_score = [number], score
        elif score == best_score:
            best.append(number)
    if not best:
        return None
    return _union(bags[n][0] for n in best), "added lines", best_score


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(sha for group in groups for sha in group))


def _union_traces(note_texts: Mapping[str, str], shas: Iterable[str]) -> list[notes.TraceRef]:
    found: dict[str, notes.TraceRef] = {}
    for sha in shas:
        for ref in notes.attached(note_texts.get(sha)):
            if ref.id not in found or (ref.url and not found[ref.id].url):
                found[ref.id] = ref
    return list(found.values())


# --- running it -------------------------------------------------------------------


def default_range() -> list[str]:
    """Without RANGE: the recent commits of every branch and remote-tracking branch."""
    return ["--branches", "--remotes"]


def relink(
    cwd: str,
    range_args: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    only: Sequence[str] | None = None,
    threshold: float = THRESHOLD,
    message: str = "traces-git relink",
) -> Result:
    """Find and (unless ``dry_run``) write the relinks for a range's commits without a note.

    ``only``: the candidates themselves (``ci remap --onto``), instead of a range.
    """
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

    info = RepoInfo.discover(cwd)
    cwd = info.worktree or info.common_dir
    repo = info.open()
    texts = notes.read_all(repo)
    commits = (
        list(only)
        if only is not None
        else rev_list(cwd, list(range_args) if range_args else default_range())
    )
    candidates = [sha for sha in commits if sha not in texts]
    result = Result(candidates=len(candidates), dry_run=dry_run)
    if not candidates:
        return result
    heads = tips_of(cwd, candidates)
    result.sources, result.matches = match(cwd, repo, candidates, texts, heads, threshold=threshold)
    if dry_run or not result.matches:
        return result
    config = Config.load(cwd)
    edits = {m.commit: (lambda old, m=m: with_relink(old, m)) for m in result.matches}
    changed = notes.update(
        repo,
        edits,
        message=f"{message}: {len(result.matches)} commit(s)",
        author=notes.parse_author(config.get("traces.notesAuthor")),
        lock_path=os.path.join(info.common_dir, "traces-git-notes.lock"),
    )
    result.written = sorted(changed)
    return result


def tips_of(cwd: str, commits: Sequence[str], limit: int = MAX_HEADS) -> list[str]:
    """The commits of ``commits`` that no other of them descends from: the new history's tips."""
    if not commits:
        return []
    proc = gitcmd.run(["merge-base", "--independent", *commits[:MAX_TIP_SEARCH]], cwd, check=False)
    tips = set(proc.stdout.decode().split()) if proc.returncode == 0 else set(commits[:1])
    return [sha for sha in commits if sha in tips][:limit]
