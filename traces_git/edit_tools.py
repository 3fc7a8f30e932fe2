"""Which tool calls of a trace edited which files, as the official Traces CLI 0.6.31 counts them.

Read from its binary (the post-commit hook's "file overlap" evidence): a tool call counts
when its name, lower-cased with everything but ``a-z0-9`` removed (:func:`normalise`), is
an edit-type tool (:data:`EDIT_TOOLS`) or a shell tool (:data:`SHELL_TOOLS`). An edit
tool's files are its path arguments (:data:`PATH_KEYS`, the first non-empty one, else
the ``>`` redirects of its ``command``), both sides of its source/destination pairs
(:data:`PAIR_KEYS`), the same for each object of ``edits``, and the files named by a
patch (``*** Add/Update/Delete/Move to File:``) in ``patch``/``patchText``/``diff``/
``raw``. ``str_replace_editor`` with ``command`` ``view``/``read`` edits nothing. A
shell tool's files are what its command writes (:func:`shell_writes`). A
``system_event`` of subtype ``workspace.edit`` that succeeded names its changes' paths.
Anything else (Read, Grep, Glob, LS, WebFetch, ...) never counts.

One table for every reader: the selection (``selection``), explain, and line-level
attribution. :func:`edited_files` is the entry point; it returns the paths as the
agent wrote them (absolute, relative or ``file://``); :func:`resolve` turns one into an
absolute path against the trace's directory.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

EDIT_TOOLS = frozenset(
    {
        "applypatch", "create", "createfile", "delete", "deletefile", "edit", "editfile",
        "editfilev2", "movefile", "multiedit", "notebookedit", "patch", "removefile",
        "renamefile", "replacefilecontent", "replaceinfile", "searchreplace", "strreplace",
        "strreplaceeditor", "write", "writefile", "writetofile",
    }
)  # fmt: skip
SHELL_TOOLS = frozenset(
    {
        "bash", "execute", "executecommand", "exec", "execcommand", "interactiveshell",
        "runcommand", "runcommands", "runterminalcommand", "runterminalcommandv2", "shell",
        "shellcommand", "terminal",
    }
)  # fmt: skip
PATH_KEYS = (
    "path", "file_path", "target_file", "targetFile", "TargetFile", "effectiveUri",
    "filePath", "file", "filename", "absPath", "absolutePath", "AbsolutePath",
    "relativeWorkspacePath", "notebook_path", "notebookPath",
)  # fmt: skip
PAIR_KEYS = (("source", "destination"), ("src", "dest"), ("old_path", "new_path"),
             ("oldPath", "newPath"))  # fmt: skip
PATCH_KEYS = ("patch", "patchText", "diff", "raw")
COMMAND_KEYS = ("command", "commands", "cmd", "Command", "CommandLine", "input")
SHELLS = ("bash", "dash", "sh", "zsh")
# Commands whose non-option arguments are files they write.
_WRITES_ALL = ("rm", "touch", "truncate")
_PATCH_MARKS = ("*** Add File:", "*** Update File:", "*** Delete File:", "*** Move to File:")


def normalise(tool_name: str) -> str:
    """``"Apply_Patch"`` -> ``"applypatch"``: lower case, only ``a-z0-9`` kept."""
    lowered = tool_name.strip().lower()
    return "".join(c for c in lowered if "a" <= c <= "z" or "0" <= c <= "9")


def is_edit_tool(tool_name: str) -> bool:
    return normalise(tool_name) in EDIT_TOOLS


def is_shell_tool(tool_name: str) -> bool:
    return normalise(tool_name) in SHELL_TOOLS


def counts(tool_name: object) -> bool:
    """Can a call of this tool edit files (an edit-type or a shell tool)?"""
    if not isinstance(tool_name, str):
        return False
    name = normalise(tool_name)
    return name in EDIT_TOOLS or name in SHELL_TOOLS


def edited_files(tool_name: object, args: object) -> list[str]:
    """The files one tool call edited, as written in its arguments (deduplicated, in order).

    ``args`` is the call's argument object; a JSON text of one is parsed; anything else
    edits nothing. Read-only tools return ``[]``.
    """
    if not isinstance(tool_name, str):
        return []
    if isinstance(args, str):
        args = _json(args)
    if not isinstance(args, dict):
        return []
    name = normalise(tool_name)
    if name in SHELL_TOOLS:
        command = shell_command(args)
        return shell_writes(command) if command else []
    if name not in EDIT_TOOLS:
        return []
    if name == "strreplaceeditor" and _is_view(args.get("command")):
        return []
    found = _path_or_redirects(args)
    for first, second in PAIR_KEYS:
        for key in (first, second):
            if isinstance(args.get(key), str):
                found.append(args[key])
    edits = args.get("edits")
    if isinstance(edits, str) and edits.startswith("["):
        edits = _json(edits)
    if isinstance(edits, list):
        for item in edits:
            if isinstance(item, dict):
                found.extend(_path_or_redirects(item))
    # the first of them that is there (JS `??`): a patch that is not text names nothing
    text = next((args[k] for k in PATCH_KEYS if args.get(k) is not None), None)
    if isinstance(text, str):
        found.extend(patch_files(text))
    return _unique(found)


def workspace_edit_files(data: object) -> list[str]:
    """The paths of a successful ``workspace.edit`` system event's changes."""
    if not isinstance(data, dict) or data.get("success") is not True:
        return []
    changes = data.get("changes")
    if not isinstance(changes, list):
        return []
    found: list[str] = []
    for change in changes:
        if not isinstance(change, dict) or change.get("changeType") not in (
            "add",
            "update",
            "delete",
        ):
            continue
        path = change.get("path")
        if isinstance(path, str) and path:
            found.append(path)
            moved = change.get("movePath")
            if isinstance(moved, str) and moved:
                found.append(moved)
    return found


def event_files(event: dict) -> list[str]:
    """The files one store event (``tool_call`` or ``system_event``) edited."""
    kind = event.get("type")
    if kind == "tool_call":
        return edited_files(event.get("toolName"), event.get("args"))
    if kind == "system_event" and event.get("subtype") == "workspace.edit":
        return workspace_edit_files(event.get("data"))
    return []


def read_files(tool_name: object, args: object) -> list[str]:
    """The path arguments of a call that edits nothing (a Read, a Grep, ...): for explain."""
    if not isinstance(tool_name, str) or counts(tool_name):
        return []
    if isinstance(args, str):
        args = _json(args)
    if not isinstance(args, dict):
        return []
    return _unique([args[k] for k in PATH_KEYS if isinstance(args.get(k), str) and args[k]])


def shell_command(args: dict) -> str | None:
    """The command line of a shell tool call: the first of :data:`COMMAND_KEYS` that is a
    non-empty string; for a list, ``commands`` joined by lines, the script of ``sh -c``,
    else the words quoted and joined."""
    for key in COMMAND_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and all(isinstance(word, str) for word in value):
            if key == "commands":
                return "\n".join(value)
            script = _shell_script(value)
            if script is not None:
                return script
            return " ".join("'" + word.replace("'", "'\\''") + "'" for word in value)
    return None


def shell_writes(command: str) -> list[str]:
    """The files a shell command line writes: ``>``/``>>`` redirects anywhere, and per
    simple command (split at ``&&``, ``||``, ``;``, newlines) ``rm``/``touch``/
    ``truncate`` (every operand), ``mv`` (the last two), ``cp``/``install`` (the last),
    ``tee`` (every operand), ``sed``/``perl`` with ``-i``/``--in-place`` (the last)."""
    found = redirect_targets(command)
    for part in _split_commands(command):
        words = _words(part)
        if not words:
            continue
        program = os.path.basename(words[0]).lower()
        operands = [w for w in words[1:] if not w.startswith("-")]
        if program in _WRITES_ALL or program == "tee":
            found.extend(operands)
        elif program == "mv" and len(operands) >= 2:
            found.extend(operands[-2:])
        elif program in ("cp", "install") and len(operands) >= 2:
            found.append(operands[-1])
        elif program in ("sed", "perl") and any(_in_place(w) for w in words):
            if operands:
                found.append(operands[-1])
    return _unique(found)


def redirect_targets(command: str) -> list[str]:
    """The targets of ``>`` and ``>>`` outside quotes (``>&2`` and the like are not files)."""
    found: list[str] = []
    quote = None
    i, n = 0, len(command)
    while i < n:
        c = command[i]
        if c == "\\":
            i += 2
            continue
        if quote:
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "'\"":
            quote = c
            i += 1
            continue
        if c != ">":
            i += 1
            continue
        if i + 1 < n and command[i + 1] == ">":
            i += 1
        while i + 1 < n and command[i + 1].isspace():
            i += 1
        target, inner = "", None
        i += 1
        while i < n:
            c = command[i]
            if c == "\\" and i + 1 < n:
                target += command[i + 1]
                i += 2
                continue
            if inner:
                if c == inner:
                    inner = None
                else:
                    target += c
                i += 1
                continue
            if c in "'\"":
                inner = c
                i += 1
                continue
            if c.isspace() or c in ";&|":
                break
            target += c
            i += 1
        if target and not target.startswith("&"):
            found.append(target)
    return _unique(found)


def patch_files(text: str) -> list[str]:
    """The files an ``apply_patch`` envelope names (Add, Update, Delete, Move to)."""
    found = []
    for line in text.splitlines():
        for mark in _PATCH_MARKS:
            if line.startswith(mark):
                name = line[len(mark) :].strip()
                if name:
                    found.append(name)
                break
    return _unique(found)


def resolve(name: str, base_dir: str | None) -> str | None:
    """``name`` as an absolute real path: a ``file://`` URI decoded, a relative path
    joined to ``base_dir`` (None without one)."""
    name = name.strip()
    if name.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        name = unquote(urlsplit(name).path)
    if not name or "\0" in name:
        return None
    if not os.path.isabs(name):
        if not base_dir:
            return None
        name = os.path.join(base_dir, name)
    return os.path.realpath(name)


def resolve_all(names: Iterable[str], base_dir: str | None) -> set[str]:
    found = set()
    for name in names:
        path = resolve(name, base_dir)
        if path:
            found.add(path)
    return found


def _path_or_redirects(args: dict) -> list[str]:
    for key in PATH_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value:
            return [value]
    command = args.get("command")
    return redirect_targets(command) if isinstance(command, str) else []


def _is_view(command: object) -> bool:
    return isinstance(command, str) and command.strip().lower() in ("view", "read")


def _shell_script(words: list[str]) -> str | None:
    """The script of ``bash -c SCRIPT`` (or ``-lc``, ``-ec``, ...): None for another program."""
    if not words or os.path.basename(words[0]).lower() not in SHELLS:
        return None
    for index in range(1, len(words) - 1):
        flag = words[index]
        letters = flag[1:]
        if flag[:1] == "-" and letters.isascii() and letters.isalpha() and "c" in letters.lower():
            return words[index + 1]
    return None


def _split_commands(command: str) -> list[str]:
    parts, start, i = [], 0, 0
    while i < len(command):
        if command.startswith(("&&", "||"), i):
            parts.append(command[start:i])
            i += 2
            start = i
        elif command[i] in ";\n":
            parts.append(command[start:i])
            i += 1
            start = i
        else:
            i += 1
    parts.append(command[start:])
    return parts


def _words(part: str) -> list[str]:
    """Words of a simple command: ``"..."`` and ``'...'`` unquoted, words with ``>`` left out."""
    import re

    words = []
    for match in re.finditer(r"\"([^\"]*)\"|'([^']*)'|(\S+)", part):
        word = next((g for g in match.groups() if g is not None), "")
        if word and ">" not in word:
            words.append(word)
    return words


def _in_place(word: str) -> bool:
    if word == "--in-place" or word.startswith("--in-place="):
        return True
    rest = word[1:] if word[:1] == "-" else ""
    return "i" in rest and "-" not in rest[: rest.index("i")]


def _json(text: str) -> object:
    import json  # only for arguments the store kept as JSON text

    try:
        return json.loads(text)
    except ValueError:
        return None


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)
