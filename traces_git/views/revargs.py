"""git's revision syntax for ``log``, ``stats`` and ``ci``: what ``git log`` takes to choose
commits, with git's meaning, checked before git sees it.

Revisions and ranges (``A..B``, ``A...B``, ``^A``, ``A^@``), paths (after ``--``,
or where git's own disambiguation allows), and git's options that choose or
order commits (``--all``, ``--branches[=GLOB]``, ``--since``, ``--author``,
``-n``, ``--first-parent`` ...) pass to ``git log`` unchanged. Options that
change what git prints (``--format``, ``-p``, ``--graph``, ``--output`` ...)
are refused with a one-line reason: the view prints its own format, and
``--output`` would write a file.

``-n``/``--max-count``, ``--skip`` and ``--reverse`` are taken out and applied
by the caller after its own filter (the commits with traces), as git applies
them after ``--grep`` or ``--author``: ``log -n 1`` is the latest commit with
traces, and ``log -n 3 --reverse`` the latest three, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from traces_git.errors import UsageError

# Options without a value (git-rev-list(1): commit limiting, history simplification,
# ordering).
FLAGS = frozenset(
    {
        "--all",
        "--branches",
        "--tags",
        "--remotes",
        "--reflog",
        "--alternate-refs",
        "--single-worktree",
        "--not",
        "--merges",
        "--no-merges",
        "--first-parent",
        "--exclude-first-parent-only",
        "--no-min-parents",
        "--no-max-parents",
        "--all-match",
        "--invert-grep",
        "-i",
        "--regexp-ignore-case",
        "--basic-regexp",
        "-E",
        "--extended-regexp",
        "-F",
        "--fixed-strings",
        "-P",
        "--perl-regexp",
        "--remove-empty",
        "--left-only",
        "--right-only",
        "--cherry-pick",
        "--cherry-mark",
        "--cherry",
        "--boundary",
        "--ignore-missing",
        "--bisect",
        "--merge",
        "--full-history",
        "--dense",
        "--sparse",
        "--simplify-merges",
        "--simplify-by-decoration",
        "--show-pulls",
        "--ancestry-path",
        "--follow",
        "--date-order",
        "--author-date-order",
        "--topo-order",
        "-g",
        "--walk-reflogs",
        "--left-right",
        "--pickaxe-all",
        "--pickaxe-regex",
        "--no-walk",
        "--do-walk",
        "--end-of-options",
    }
)
# Options with a value, as ``--opt=VALUE`` or ``--opt VALUE``.
VALUED = frozenset(
    {
        "--since",
        "--after",
        "--since-as-filter",
        "--until",
        "--before",
        "--author",
        "--committer",
        "--grep",
        "--grep-reflog",
        "--min-parents",
        "--max-parents",
        "--glob",
        "--exclude",
        "--max-age",
        "--min-age",
    }
)
# Options whose value only comes after ``=`` (the bare form is in FLAGS or refused).
EQUALS_ONLY = frozenset(
    {"--branches", "--tags", "--remotes", "--ancestry-path", "--exclude-hidden", "--no-walk"}
)
# Short options with a value: ``-S<string>`` / ``-S <string>``.
SHORT_VALUED = frozenset({"-S", "-G"})


class RevArgs:
    """A checked ``git log`` argument list, with ``-n``/``--skip``/``--reverse`` taken out."""

    __slots__ = ("args", "max_count", "skip", "reverse", "has_revision", "paths")

    def __init__(
        self,
        args: list[str],
        max_count: int | None,
        skip: int,
        reverse: bool,
        has_revision: bool,
        paths: list[str],
    ):
        self.args = args  # for git log: options and revisions, then "--" and paths
        self.max_count = max_count
        self.skip = skip
        self.reverse = reverse
        self.has_revision = has_revision  # a revision or a ref-choosing option was given
        self.paths = paths

    def describe(self) -> str:
        """The arguments as the user would type them again (for messages and JSON)."""
        shown = list(self.args)
        if self.max_count is not None:
            shown.append(f"-n{self.max_count}")
        if self.skip:
            shown.append(f"--skip={self.skip}")
        if self.reverse:
            shown.append("--reverse")
        return " ".join(shown)


_REF_CHOOSING = (
    "--all",
    "--branches",
    "--tags",
    "--remotes",
    "--reflog",
    "--glob",
    "--alternate-refs",
    "-g",
    "--walk-reflogs",
    "--merge",
    "--bisect",
)


def _count(value: str, option: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{option} takes a number, not {value!r}") from None
    if number < 0 and option != "-n":
        raise UsageError(f"{option} takes a number of 0 or more, not {value!r}")
    return number


def parse(argv: Sequence[str], *, command: str = "log") -> RevArgs:
    """Check ``argv`` (what the user gave after the view's own options)."""
    args: list[str] = []
    paths: list[str] = []
    max_count: int | None = None
    skip = 0
    reverse = False
    has_revision = False
    i = 0
    argv = list(argv)
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            paths = argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            if arg == "-":
                raise UsageError(f"{command}: '-' (the previous branch) is not supported here")
            args.append(arg)
            has_revision = True
            continue
        name, eq, value = arg.partition("=")

        def take_value(name: str = name, eq: str = eq, value: str = value) -> str:
            nonlocal i
            if eq:
                return value
            if i >= len(argv):
                raise UsageError(f"{command}: {name} needs a value")
            i += 1
            return argv[i - 1]

        if name in ("-n", "--max-count"):
            max_count = _count(take_value(), "-n")
        elif name.startswith("-n") and name[2:].lstrip("-").isdigit():
            max_count = _count(name[2:], "-n")
        elif name[1:].isdigit():
            max_count = _count(name[1:], "-n")
        elif name == "--skip":
            skip = _count(take_value(), "--skip")
        elif name == "--reverse" and not eq:
            reverse = True
        elif name in VALUED:
            args.append(f"{name}={take_value()}")
            has_revision = has_revision or name in _REF_CHOOSING
        elif eq and name in EQUALS_ONLY:
            args.append(arg)
            has_revision = has_revision or name in _REF_CHOOSING
        elif not eq and name in FLAGS:
            args.append(arg)
            has_revision = has_revision or name in _REF_CHOOSING
        elif arg[:2] in SHORT_VALUED:
            args.append(arg if len(arg) > 2 else f"{arg}{take_value_short(argv, i, command)}")
            if len(arg) == 2:
                i += 1
        else:
            raise UsageError(
                f"{command}: option not supported here: {arg} (this view prints "
                "its own format; git's options that choose commits work)"
            )
    if max_count is not None and max_count < 0:
        max_count = None  # git: a negative -n means no limit
    return RevArgs(
        args + (["--", *paths] if paths else []), max_count, skip, reverse, has_revision, paths
    )


def take_value_short(argv: Sequence[str], i: int, command: str) -> str:
    if i >= len(argv):
        raise UsageError(f"{command}: {argv[i - 1]} needs a value")
    return argv[i]
