"""Every YAML example in the docs (and action.yml, the GitLab template) parses, and every
``traces-git`` command its shell lines run names a command and flags that exist.

Needs PyYAML (a test dependency: the examples are YAML and a hand-rolled parser would
check less than the real one).
"""

from __future__ import annotations

import re
import shlex

import click
import pytest
import yaml

from tests.helpers import ROOT
from traces_git.cli import cli

SHELL_KEYS = ("run", "script", "before_script", "after_script")
OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&", ")", "fi", "then", "do"}


def _doc_blocks() -> list[tuple[str, str]]:
    found = []
    for path in sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")]):
        text = path.read_text(encoding="utf-8")
        for number, match in enumerate(re.finditer(r"^```ya?ml\n(.*?)^```", text, re.M | re.S)):
            found.append((f"{path.relative_to(ROOT)}#{number + 1}", match.group(1)))
    return found


def _files() -> list[tuple[str, str]]:
    paths = [ROOT / "action.yml", *sorted((ROOT / "docs").glob("*.yml"))]
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in paths]


EXAMPLES = _doc_blocks() + _files()
# `pip install traces-git` / `pipx install traces-git==1`: a name from an index (none has it)
INDEX_INSTALL = re.compile(
    r"(?:pip|pipx|uv tool|uv pip) install\s+(?:-\S+\s+)*[\"']?traces-git"
    r"(?:[=<>~\[\s\"']|$)",
    re.M,
)


def _shell_texts(node, key: str | None = None):
    """Every shell script in a parsed workflow, action or GitLab file."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name in SHELL_KEYS:
                if isinstance(value, str):
                    yield value
                elif isinstance(value, list):
                    yield from (item for item in value if isinstance(item, str))
            else:
                yield from _shell_texts(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _shell_texts(item, key)


def _uses_with(node):
    if isinstance(node, dict):
        uses = node.get("uses")
        if isinstance(uses, str) and re.search(r"/traces-git@", uses):
            yield uses, node.get("with") or {}
        for value in node.values():
            yield from _uses_with(value)
    elif isinstance(node, list):
        for item in node:
            yield from _uses_with(item)


def invocations(script: str) -> list[list[str]]:
    """The argument lists of each ``traces-git`` run in a shell script."""
    joined = re.sub(r"\\\n\s*", " ", script)
    calls = []
    for line in joined.splitlines():
        line = line.strip()
        if "traces-git" not in line or line.startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>()")
        lexer.whitespace_split = True
        words = list(lexer)
        for index, word in enumerate(words):
            if word == "traces-git" and (
                index == 0
                or words[index - 1] in OPERATORS
                or words[index - 1] in ("then", "else", "do")
            ):
                args = []
                for arg in words[index + 1 :]:
                    if arg in OPERATORS or set(arg) <= set("|&;<>()"):
                        break
                    args.append(arg)
                calls.append(args)
    return calls


def check_invocation(args: list[str]) -> None:
    """Raise AssertionError unless ``args`` names existing commands and flags."""
    command: click.Command = cli
    ctx = click.Context(cli)
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r} in traces-git {' '.join(args)}"
        command, rest = sub, rest[1:]
    options = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in [*param.opts, *param.secondary_opts]:
                options[name] = param
    skip = False
    for word in rest:
        if skip:
            skip = False
            continue
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            assert name in options or name in ("-h", "--help", "--version"), (
                f"no option {name} for traces-git {' '.join(args)}"
            )
            param = options.get(name)
            if param is not None and not param.is_flag and not param.count and "=" not in word:
                skip = True


def test_there_are_examples_to_check():
    names = [name for name, _ in EXAMPLES]
    assert "action.yml" in names and "docs/traces-git.gitlab-ci.yml" in names
    assert any(name.startswith("docs/ci.md") for name in names)


@pytest.mark.parametrize("name,text", EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_yaml_example_parses_and_its_commands_exist(name, text):
    parsed = yaml.safe_load(text)
    assert isinstance(parsed, dict), f"{name} is not a YAML mapping"
    for script in _shell_texts(parsed):
        for args in invocations(script):
            check_invocation(args)
    inputs = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    for uses, given in _uses_with(parsed):
        unknown = set(given) - inputs
        assert not unknown, f"{name}: {uses} has no input(s) {sorted(unknown)}"


def test_no_example_installs_from_a_package_index():
    for name, text in EXAMPLES:
        assert not INDEX_INSTALL.search(text), name


def test_index_install_pattern_catches_the_old_docs():
    assert INDEX_INSTALL.search("      - run: pip install traces-git\n")
    assert INDEX_INSTALL.search("pipx install --force traces-git==0.1")
    assert not INDEX_INSTALL.search('pip install "$TRACES_GIT_SOURCE"  # pip installs traces-git')


def test_action_outputs_come_from_a_step_that_exists():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    ids = {step.get("id") for step in action["runs"]["steps"]}
    for output in action["outputs"].values():
        step = re.search(r"steps\.([\w-]+)\.outputs", output["value"]).group(1)
        assert step in ids
    assert set(action["inputs"]) >= {"mode", "comment", "traces-api-key", "python-version"}
    assert set(action["outputs"]) == {"trace-count", "trace-ids"}
    install = next(s for s in action["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"


@pytest.mark.parametrize(
    "args",
    [
        ["ci", "--no-such-flag"],
        ["no-such-command"],
        ["ci", "comment", "--forge"],  # a value-taking option is fine; an unknown one is not:
    ],
)
def test_the_checker_itself_catches_what_does_not_exist(args):
    if args == ["ci", "comment", "--forge"]:
        check_invocation(args)
        with pytest.raises(AssertionError):
            check_invocation(["ci", "comment", "--forg", "github"])
        return
    with pytest.raises(AssertionError):
        check_invocation(args)


def test_shell_parsing_finds_each_invocation():
    script = (
        'if [ -n "$X" ]; then traces-git ci comment --json; else traces-git ci > a.md; fi\n'
        "traces-git relink origin/main --dry-run | tee out\n"
        "echo traces-git is not run here\n"
    )
    assert invocations(script) == [
        ["ci", "comment", "--json"],
        ["ci"],
        ["relink", "origin/main", "--dry-run"],
    ]
