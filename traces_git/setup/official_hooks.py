"""The official Traces CLI's per-repository git hooks (`traces setup git`): find and remove them.

``traces setup git`` writes ``traces-<hook>`` scripts into
``<git-common-dir>/hooks`` and appends a marked block calling each of them to
the repository's own ``post-commit``, ``pre-merge-commit``, ``post-merge`` and
``pre-push`` (older versions also ``prepare-commit-msg``). Beside traces-git
they do the same work a second time, at the cost of starting the Traces
binary on every commit (see docs/benchmarks.md).

:func:`remove` undoes what ``traces remove git`` undoes, and no more: the
scripts, the marked blocks (with the blank line setup put before a block at
the end of a file), hook files that held nothing else, and the official hook's
own state files in the git dir. Every other line of a hook file is kept byte
for byte (``traces remove git`` also squeezes runs of blank lines elsewhere;
we do not). ``notes.rewriteRef`` and ``traces-active.json`` stay: traces-git
uses both.
"""

from __future__ import annotations

import os

BLOCK_START = "# >>> traces hooks (do not edit)"
BLOCK_END = "# <<< traces hooks"
HOOKS = ("post-commit", "pre-merge-commit", "post-merge", "pre-push", "prepare-commit-msg")
STATE_FILES = ("traces-pending.json", "traces-merge-marker")
STATE_DIRS = ("traces-pending",)
# Fetch refspecs older official versions configured (a forced fetch into the
# local notes ref loses unpushed notes); `traces remove git` unsets them too.
FORCED_REFSPECS = ("+refs/notes/traces*:refs/notes/traces*", "+refs/notes/traces:refs/notes/traces")
# Measured on this machine type (bench/official_hooks.py, docs/benchmarks.md):
# a commit with the official hooks in place took 0.44 s longer (484 ms against
# 43 ms; an earlier measurement gave 0.7 s against 7 ms): the binary's start-up
# and its store and git reads.
COST_PER_COMMIT_S = 0.5


def script_name(hook: str) -> str:
    return f"traces-{hook}"


def hook_dirs(common_dir: str, git_dir: str) -> list[str]:
    dirs = [os.path.join(common_dir, "hooks")]
    if os.path.realpath(git_dir) != os.path.realpath(common_dir):
        dirs.append(os.path.join(git_dir, "hooks"))
    return dirs


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return handle.read()
    except OSError:
        return None


def detect(common_dir: str, git_dir: str) -> dict:
    """Which official scripts and marked blocks this repository has."""
    scripts, blocks = [], []
    for directory in hook_dirs(common_dir, git_dir):
        for hook in HOOKS:
            script = os.path.join(directory, script_name(hook))
            if os.path.isfile(script):
                scripts.append(script)
            text = _read(os.path.join(directory, hook))
            if text is not None and BLOCK_START in text:
                blocks.append(os.path.join(directory, hook))
    return {
        "installed": bool(scripts or blocks),
        "scripts": scripts,
        "blocks": blocks,
        "runs_on_commit": any(b.endswith(os.sep + "post-commit") for b in blocks)
        and any(s.endswith(os.sep + "traces-post-commit") for s in scripts),
        "cost_per_commit_s": COST_PER_COMMIT_S,
    }


def without_block(text: str) -> str | None:
    """``text`` without the marked block; None when it has no complete block.

    A start marker without an end marker is left alone (the official CLI would
    drop everything after it, user lines included).
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    found = False
    while i < len(lines):
        if lines[i].rstrip("\r\n") == BLOCK_START:
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].rstrip("\r\n") == BLOCK_END),
                None,
            )
            if end is None:
                return None if not found else "".join(out + lines[i:])
            found = True
            rest = lines[end + 1 :]
            if not any(line.strip() for line in rest):
                # The block closed the file: drop the blank line setup put before it
                # and whatever blank lines trail.
                while out and not out[-1].strip():
                    out.pop()
                if out and not out[-1].endswith("\n"):
                    out[-1] += "\n"
                rest = []
            out.extend(rest)
            break
        out.append(lines[i])
        i += 1
    if not found:
        return None
    remaining = "".join(out)
    return without_block(remaining) if BLOCK_START in remaining else remaining


def _only_shebang(text: str) -> bool:
    meaningful = [line for line in text.split("\n") if line.strip()]
    return not meaningful or (len(meaningful) == 1 and meaningful[0].startswith("#!"))


def plan(common_dir: str, git_dir: str) -> list[dict]:
    """What :func:`remove` would do: a list of actions, nothing changed."""
    actions: list[dict] = []
    for directory in hook_dirs(common_dir, git_dir):
        for hook in HOOKS:
            script = os.path.join(directory, script_name(hook))
            if os.path.isfile(script) or os.path.islink(script):
                actions.append({"action": "delete", "path": script, "why": "official hook script"})
            path = os.path.join(directory, hook)
            text = _read(path)
            if text is None or BLOCK_START not in text:
                continue
            kept = without_block(text)
            if kept is None:
                actions.append(
                    {
                        "action": "skip",
                        "path": path,
                        "why": f"a '{BLOCK_START}' line without its end marker: edit by hand",
                    }
                )
            elif _only_shebang(kept):
                actions.append(
                    {"action": "delete", "path": path, "why": "held only the official block"}
                )
            else:
                actions.append(
                    {
                        "action": "rewrite",
                        "path": path,
                        "why": "official block removed",
                        "text": kept,
                    }
                )
    for name in STATE_FILES:
        path = os.path.join(git_dir, name)
        if os.path.isfile(path):
            actions.append({"action": "delete", "path": path, "why": "official hook state"})
    for name in STATE_DIRS:
        path = os.path.join(git_dir, name)
        if os.path.isdir(path):
            actions.append({"action": "delete-dir", "path": path, "why": "official hook state"})
    return actions


def forced_refspecs(base: str) -> list[dict]:
    """``remote.<name>.fetch`` entries of the official CLI's older versions."""
    from traces_git import gitcmd

    code, out = gitcmd.fast(["config", "--local", "--get-regexp", r"^remote\..*\.fetch$"], base)
    found = []
    if code == 0:
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            key, _, value = line.partition(" ")
            if value in FORCED_REFSPECS:
                found.append(
                    {
                        "action": "unset-config",
                        "key": key,
                        "value": value,
                        "why": "forced notes fetch refspec of the official CLI",
                    }
                )
    return found


def remove(common_dir: str, git_dir: str, base: str, *, dry_run: bool = False) -> list[dict]:
    """Remove the official git hooks; returns the actions (taken, or planned with ``dry_run``)."""
    actions = plan(common_dir, git_dir) + forced_refspecs(base)
    if dry_run:
        return [{k: v for k, v in a.items() if k != "text"} for a in actions]
    import shutil

    from traces_git import gitcmd

    done = []
    for action in actions:
        kind, path = action["action"], str(action.get("path") or "")
        if kind == "delete":
            os.unlink(path)
        elif kind == "delete-dir":
            shutil.rmtree(path)
        elif kind == "rewrite":
            mode = os.stat(path).st_mode
            temporary = f"{path}.traces-git.{os.getpid()}"
            with open(temporary, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
                f.write(action["text"])
            os.chmod(temporary, mode & 0o7777)
            os.replace(temporary, path)
        elif kind == "unset-config":
            import re

            gitcmd.run(
                [
                    "config",
                    "--local",
                    "--unset-all",
                    action["key"],
                    "^" + re.escape(action["value"]) + "$",
                ],
                base,
                check=False,
            )
        done.append({k: v for k, v in action.items() if k != "text"})
    return done
