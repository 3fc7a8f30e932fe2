"""The text each file-writing tool call wrote, keyed by normalised tool name.

A tool's name is normalised as the official CLI does for its edit-tool list
(lower-case, separators removed): ``apply_patch`` -> ``applypatch``. This module
only knows where each tool's args carry the *written text*; which tools count as
edits at all, and where their path is, is the one edit-tool table's business
(:mod:`traces_git.edit_tools`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator

from traces_git import edit_tools

# normalised tool name -> the arg keys that carry text the tool wrote into the file.
# ``edits`` (a list of objects with one of these keys) and patch bodies are read too.
TEXT_KEYS: dict[str, tuple[str, ...]] = {
    # Claude Code: Write {file_path, content}, Edit {.., new_string}, MultiEdit {edits[]}
    "write": ("content", "contents", "file_text"),
    "edit": ("new_string", "newString", "new_str"),
    "multiedit": ("new_string", "newString"),
    # Codex: apply_patch {"raw": "*** Begin Patch ..."}
    "applypatch": (),
    "patch": (),
    # Gemini CLI: write_file {file_path, content}, replace {file_path, old_string, new_string}
    "writefile": ("content",),
    "replace": ("new_string",),
    # Copilot CLI: create {path, file_text}, str_replace_editor / edit {path, new_str}
    "create": ("file_text", "content", "contents"),
    "createfile": ("file_text", "content", "contents"),
    "strreplaceeditor": ("file_text", "new_str"),
    "strreplace": ("new_str", "new_string"),
    # Cursor: edit_file {target_file, code_edit}; edit_file_v2 args enriched by the CLI
    # with the whole file after the edit as new_string; search_replace {file_path, new_string}
    "editfile": ("code_edit", "new_string", "content"),
    "editfilev2": ("new_string",),
    "searchreplace": ("new_string",),
    "replaceinfile": ("new_string", "new_str"),
    "writetofile": ("content",),
}
# Edit-type tools (the official list) whose written text we cannot read: `explain`
# reports them, their files' lines are not attributed to the agent.
TEXTLESS_EDIT_TOOLS = edit_tools.EDIT_TOOLS - TEXT_KEYS.keys()
# Shell tools whose command may be Codex's `apply_patch` with the patch inline
# (Codex's local_shell too, which the official list does not name).
SHELL_TOOLS = edit_tools.SHELL_TOOLS | {"localshell"}
PATH_KEYS = edit_tools.PATH_KEYS
_PATCH_KEYS = ("raw", "patch", "input", "diff")
_PATCH_HEADER = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+?)\s*$")
_MOVE_TO = re.compile(r"^\*\*\* Move to: (.+?)\s*$")


def normalise_name(name: object) -> str:
    return edit_tools.normalise(name) if isinstance(name, str) else ""


class Written:
    """Text one tool call wrote into one file (``path`` as the call names it)."""

    __slots__ = ("path", "lines", "tool", "call_id")

    def __init__(self, path: str, lines: list[str], tool: str, call_id: str | None):
        self.path, self.lines, self.tool, self.call_id = path, lines, tool, call_id

    def __repr__(self) -> str:
        return f"Written({self.path!r}, {len(self.lines)} lines, {self.tool!r})"


def is_known(name: str) -> bool:
    return normalise_name(name) in TEXT_KEYS


def is_textless_edit(name: str) -> bool:
    return normalise_name(name) in TEXTLESS_EDIT_TOOLS


def written(tool_name: str, args: object, call_id: str | None = None) -> list[Written]:
    """What a tool call wrote, per file; [] for tools that write no text we can read."""
    key = normalise_name(tool_name)
    if isinstance(args, str):
        args = {"raw": args}
    if not isinstance(args, dict):
        return []
    if key not in TEXT_KEYS:
        # Codex also applies patches through its shell tool: `apply_patch` with the
        # patch as an argument ({"command": ["apply_patch", "*** Begin Patch ..."]}).
        return list(_shell_patches(args, tool_name, call_id)) if key in SHELL_TOOLS else []
    found = list(_from_patches(args, tool_name, call_id))
    path = _path(args)
    if path is None:
        return found
    texts: list[str] = [args[k] for k in TEXT_KEYS[key] if isinstance(args.get(k), str)]
    edits = args.get("edits")
    if isinstance(edits, list):
        for item in edits[:10_000]:
            if isinstance(item, dict):
                texts += [
                    item[k]
                    for k in ("new_string", "newString", "new_str", "newText")
                    if isinstance(item.get(k), str)
                ]
    if texts:
        found.append(
            Written(
                path, [line for text in texts for line in text.splitlines()], tool_name, call_id
            )
        )
    return found


def _shell_patches(args: dict, tool: str, call_id: str | None) -> Iterator[Written]:
    command = args.get("command", args.get("cmd"))
    parts = command if isinstance(command, list) else [command]
    for part in parts[:64]:
        if (
            isinstance(part, str)
            and "apply_patch" in str(parts[0]) + part
            and "*** Begin Patch" in part
        ):
            yield from parse_patch(part[part.index("*** Begin Patch") :], tool, call_id)


def _path(args: dict) -> str | None:
    for key in PATH_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value.strip() and "\0" not in value:
            return value.strip()
    return None


def _from_patches(args: dict, tool: str, call_id: str | None) -> Iterator[Written]:
    for key in _PATCH_KEYS:
        value = args.get(key)
        if isinstance(value, str) and "*** Begin Patch" in value:
            yield from parse_patch(value, tool, call_id)


def parse_patch(
    body: str, tool: str = "apply_patch", call_id: str | None = None
) -> Iterator[Written]:
    """Codex's patch format: the ``+`` lines of each file's hunks (``*** Move to`` wins)."""
    path: str | None = None
    lines: list[str] = []
    for raw in body.splitlines():
        header = _PATCH_HEADER.match(raw)
        if header or raw.startswith("*** End Patch"):
            if path is not None and lines:
                yield Written(path, lines, tool, call_id)
            path, lines = None, []
            if header and header.group(1) != "Delete":
                path = header.group(2)
            continue
        move = _MOVE_TO.match(raw)
        if move and path is not None:
            path = move.group(1)
            continue
        if path is not None and raw.startswith("+"):
            lines.append(raw[1:])
    if path is not None and lines:
        yield Written(path, lines, tool, call_id)


def resolve(path: str, base_dirs: Iterable[str | None], worktree: str) -> str | None:
    """The repository-relative path (``/`` separators) a call's path names, or None."""
    candidates = []
    if os.path.isabs(path):
        candidates.append(path)
    else:
        candidates += [os.path.join(base, path) for base in base_dirs if base]
        candidates.append(os.path.join(worktree, path))
    roots = [worktree, os.path.realpath(worktree)]
    for candidate in candidates:
        for variant in (os.path.normpath(candidate), os.path.realpath(candidate)):
            for root in roots:
                rel = os.path.relpath(variant, root)
                if rel != "." and not rel.startswith(".." + os.sep) and rel != "..":
                    return rel.replace(os.sep, "/")
    for base in base_dirs:  # a trace recorded in another clone of the same project
        if base and os.path.isabs(path):
            rel = os.path.relpath(os.path.normpath(path), os.path.normpath(base))
            if not rel.startswith(".."):
                return rel.replace(os.sep, "/")
    return None
