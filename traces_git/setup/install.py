"""Install and remove traces-git's hooks, globally or for one repository.

Global install: the hook scripts go to ``<data dir>/hooks`` and the user's
global ``core.hooksPath`` points there. Repository install (``--repo``): a
hooks dir of that repository's own under ``<data dir>/repos/`` and a local
``core.hooksPath`` (for repos where a local hooks path such as husky's wins
over the global one). Either way the dispatcher chains to the hooks that
would have run without us, so what we replace is remembered in
``<state dir>/install.json`` and put back, byte for byte, by ``uninstall``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from traces_git import gitcmd, log, paths
from traces_git.errors import GitError, UsageError
from traces_git.repo import RepoInfo

DISPATCHER = "traces-git-dispatch"
STUB_TEMPLATE = "hook-stub"
# Every client hook git knows (githooks(5)): each gets the same stub, which sources the
# dispatcher; the stub finds its hook's name in "$0".
CLIENT_HOOKS = (
    "applypatch-msg",
    "commit-msg",
    "fsmonitor-watchman",
    "p4-changelist",
    "p4-post-changelist",
    "p4-pre-submit",
    "p4-prepare-changelist",
    "post-applypatch",
    "post-checkout",
    "post-commit",
    "post-index-change",
    "post-merge",
    "post-rewrite",
    "pre-applypatch",
    "pre-auto-gc",
    "pre-commit",
    "pre-merge-commit",
    "pre-push",
    "pre-rebase",
    "prepare-commit-msg",
    "sendemail-validate",
)
# Installed only where a hook of that name would run without us, to chain it: git 2.39 runs
# reference-transaction twice per ref a non-atomic fetch moves (one process start each: a
# fetch of 1,000 new tags took seconds more), and traces-git has no work in it.
CHAIN_ONLY_HOOKS = ("reference-transaction",)
MARKER = "traces-git-managed-hook"
PLACEHOLDERS = {
    "python": "@TRACES_GIT_PYTHON@",
    "hooks_dir": "@TRACES_GIT_HOOKS_DIR@",
    "previous": "@TRACES_GIT_PREVIOUS_HOOKS@",
    "entry": "@TRACES_GIT_ENTRY@",
}
PLAIN_ENTRY = "import sys;from traces_git.__main__ import main;sys.exit(main())"


def hook_entry(python: str) -> str:
    """The ``python -I -S -c`` code the dispatcher runs: ``-S`` spares every hook run the
    ~3 ms of ``site`` (.pth files), so the directories it would add are listed here;
    if they moved, the code falls back to ``site`` itself."""
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return "import site;site.main();" + PLAIN_ENTRY  # another interpreter: its own site
    import site

    package_parent = str(Path(__file__).resolve().parents[2])
    dirs = [package_parent, *site.getsitepackages()]
    return (
        f"import sys;sys.path[:0]={dirs!r}\n"
        "try:\n from traces_git.__main__ import main\n"
        "except ImportError:\n import site;site.main();from traces_git.__main__ import main\n"
        "sys.exit(main())"
    )


@dataclass
class Result:
    """What ``install``/``uninstall`` did, for the command's output."""

    scope: str  # "global" or "repo"
    hooks_dir: str
    previous: str | None = None  # the hooks path we chain to (and restore)
    repo: str | None = None
    changed: bool = True
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "scope": self.scope,
            "hooks_dir": self.hooks_dir,
            "previous_hooks_path": self.previous,
            "repo": self.repo,
            "changed": self.changed,
            "notes": self.notes,
        }


# ---------------------------------------------------------------- hook files


def hook_sources() -> Path:
    """The hook scripts shipped with this copy of traces-git (wheel or checkout)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "hook_scripts", package.parent / "hooks"):
        if (candidate / DISPATCHER).is_file():
            return candidate
    raise FileNotFoundError("traces-git's hook scripts are missing from this installation")


def hook_names(chained_dirs: Sequence[str | None] = ()) -> list[str]:
    """The client hooks we install a stub for: every one of ``CLIENT_HOOKS``, and those of
    ``CHAIN_ONLY_HOOKS`` that one of ``chained_dirs`` has (a hook we must chain)."""
    chained = [name for name in CHAIN_ONLY_HOOKS if any(has_hook(d, name) for d in chained_dirs)]
    return sorted([*CLIENT_HOOKS, *chained])


def has_hook(directory: str | None, name: str) -> bool:
    """``directory/name`` is a hook git would run (or skip with a hint) that is not ours."""
    if not directory:
        return False
    path = os.path.join(os.path.expanduser(directory), name)
    return os.path.isfile(path) and not is_ours(path)


def is_ours(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is one of our hook scripts (the marker sits in its first lines)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(400)
    except OSError:
        return False
    return MARKER.encode() in head


def is_our_hooks_dir(path: str | os.PathLike[str] | None) -> bool:
    return bool(path) and is_ours(Path(os.path.expanduser(str(path))) / DISPATCHER)


def write_hooks(
    target: Path,
    python: str | None = None,
    previous: str | None = None,
    chained_dirs: Sequence[str | None] = (),
) -> list[Path]:
    """Write stubs and dispatcher into ``target`` with this install's values filled in.

    Each file is written next to its destination and renamed over it, so a hook
    that git starts meanwhile sees the old or the new script, never half of one.
    A stub of ours that is no longer wanted (a chain-only hook with nothing to chain)
    is removed. ``chained_dirs``: where the hooks we chain live besides ``previous``.
    """
    values = {
        "python": python or sys.executable,
        "hooks_dir": str(target),
        "previous": previous or "",
    }
    values["entry"] = hook_entry(values["python"])
    target.mkdir(parents=True, exist_ok=True)
    sources = hook_sources()
    files = {DISPATCHER: (sources / DISPATCHER).read_text("utf-8")}
    stub = (sources / STUB_TEMPLATE).read_text("utf-8")
    names = hook_names([previous, *chained_dirs])
    files.update((name, stub) for name in names)
    for name in CHAIN_ONLY_HOOKS:
        if name not in names and is_ours(target / name):
            (target / name).unlink()
    written = []
    for name, text in sorted(files.items()):
        for key, placeholder in PLACEHOLDERS.items():
            text = text.replace(placeholder, shlex.quote(values[key]))
        destination = target / name
        tmp = destination.with_name(f".{name}.tmp")
        tmp.write_text(text, "utf-8")
        os.chmod(tmp, 0o644 if name == DISPATCHER else 0o755)
        os.replace(tmp, destination)
        written.append(destination)
    return written


def remove_hooks(target: Path) -> None:
    """Remove our files from ``target`` (only ours), then the dir if it is empty."""
    if not target.is_dir():
        return
    for entry in target.iterdir():
        if entry.is_file() and (entry.name == DISPATCHER or is_ours(entry)):
            entry.unlink()
        elif entry.name.startswith(".") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
    try:
        target.rmdir()
    except OSError:
        pass  # something else lives there: leave it


# ---------------------------------------------------------------- locations and records


def global_hooks_dir() -> Path:
    return paths.data_dir() / "hooks"


# Older name kept for callers of the first version.
installed_hooks_dir = global_hooks_dir


def repo_hooks_dir(common_dir: str) -> Path:
    return paths.data_dir() / "repos" / paths.repo_key(common_dir) / "hooks"


def global_config_file() -> Path:
    """The file ``git config --global`` writes to (git's own rule)."""
    override = os.environ.get("GIT_CONFIG_GLOBAL")
    if override:
        return Path(override)
    home = Path.home() / ".gitconfig"
    xdg_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    xdg = Path(xdg_home) / "git" / "config"
    if not home.exists() and xdg.exists():
        return xdg
    return home


def records_file() -> Path:
    return paths.state_dir() / "install.json"


def load_records() -> dict:
    try:
        data = json.loads(records_file().read_text("utf-8"))
    except (OSError, ValueError):
        return {"global": None, "repos": {}}
    if not isinstance(data, dict):
        return {"global": None, "repos": {}}
    data.setdefault("global", None)
    if not isinstance(data.get("repos"), dict):
        data["repos"] = {}
    return data


def save_records(data: dict) -> None:
    path = records_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- git config helpers


def _config_get(scope_args: list[str], key: str, cwd: str | None = None) -> str | None:
    proc = gitcmd.run(["config", *scope_args, "--get", key], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def _has_section(config_file: Path, section: str) -> bool:
    """Whether ``[section]`` appears in the file (keys or just an empty header)."""
    try:
        text = config_file.read_text("utf-8", "surrogateescape")
    except OSError:
        return False
    for line in text.splitlines():
        stripped = line.strip().lower()
        if stripped.startswith(f"[{section}]") or stripped.startswith(f"[{section} "):
            return True
    return False


def _drop_empty_section(scope_args: list[str], section: str, cwd: str | None) -> None:
    """Remove ``[section]`` when no key is left in it (a header we created)."""
    proc = gitcmd.run(["config", *scope_args, "--get-regexp", f"^{section}\\."], cwd, check=False)
    if proc.returncode == 1 and not proc.stdout.strip():
        gitcmd.run(["config", *scope_args, "--remove-section", section], cwd, check=False)


def _set_hooks_path(scope_args: list[str], value: str, cwd: str | None = None) -> None:
    gitcmd.run(["config", *scope_args, "core.hooksPath", value], cwd)


def _unset_hooks_path(scope_args: list[str], cwd: str | None = None) -> None:
    gitcmd.run(["config", *scope_args, "--unset-all", "core.hooksPath"], cwd, check=False)


# ---------------------------------------------------------------- sync integration


def _sync_call(name: str, repo: RepoInfo, *args: object) -> str | None:
    """``traces_git.sync.transfer.ensure_configured`` or ``unconfigure``; a note when it failed."""
    from traces_git.config import Config
    from traces_git.sync import transfer as sync

    try:
        if name == "ensure_configured":
            (config,) = args
            assert isinstance(config, Config)
            sync.ensure_configured(repo, config)
        else:
            from traces_git.sync import fetched

            sync.unconfigure(repo)
            fetched.remove_files(repo.common_dir)
    except Exception as exc:  # noqa: BLE001 - install must not fail on another module
        log.write(f"sync.{name} failed: {exc}", context=repo.display, exc=exc)
        return f"notes sync setup for {repo.display} failed: {exc}"
    return None


def _unconfigure_all(info: RepoInfo | None) -> list[str]:
    """Undo the notes-sync config of every repository it was added to (the hooks add
    it lazily anywhere), and of the current one."""
    common_dirs: dict[str, RepoInfo] = {}
    if info is not None:
        common_dirs[os.path.realpath(info.common_dir)] = info
    try:
        from traces_git.sync import transfer as sync

        listed = sync.configured_repos()
    except Exception as exc:  # noqa: BLE001 - uninstall goes on without it
        log.write(f"listing configured repositories failed: {exc}", context="uninstall", exc=exc)
        listed = []
    for common_dir in listed:
        key = os.path.realpath(common_dir)
        common_dirs.setdefault(key, RepoInfo(worktree=None, git_dir=key, common_dir=key))
    notes = []
    for repo in common_dirs.values():
        note = _sync_call("unconfigure", repo)
        if note:
            notes.append(note)
    return notes


def _discover(cwd: str | None) -> RepoInfo | None:
    try:
        return RepoInfo.discover(cwd)
    except GitError:
        return None


# ---------------------------------------------------------------- install


def install(*, repo: bool = False, cwd: str | None = None, python: str | None = None) -> Result:
    """Install globally (default) or for the repository at ``cwd`` (``repo=True``).

    Idempotent: re-running rewrites the hook scripts (new Python path after an
    upgrade) and keeps what was recorded on the first run.
    """
    if repo:
        return _install_repo(cwd, python)
    return _install_global(cwd, python)


def _install_global(cwd: str | None, python: str | None) -> Result:
    records = load_records()
    record = records.get("global") or {}
    target = global_hooks_dir()
    config_file = global_config_file()
    current = _config_get(["--global"], "core.hooksPath")

    if current is not None and _same_dir(current, target):
        previous = record.get("previous")
        chain = record.get("chain", previous)
        changed = False
    else:
        # Something else (or nothing) is configured: that is what we chain to and restore.
        previous = None if current is None or is_our_hooks_dir(current) else current
        # Without a global value a system-wide one was in effect: chain to it (uninstall
        # only has to drop our global value for it to apply again).
        chain = previous or _foreign_hooks_path(["--system"])
        changed = True
    if not record:
        record = {
            "config_file": str(config_file),
            "config_file_existed": config_file.exists(),
            "had_core_section": _has_section(config_file, "core"),
        }
    record.update(
        {
            "hooks_dir": str(target),
            "previous": previous,
            "chain": chain,
            "python": python or sys.executable,
            "installed_at": time.time(),
        }
    )
    write_hooks(target, python, _chain_path(chain))
    if changed:
        _set_hooks_path(["--global"], str(target))
    records["global"] = record
    save_records(records)

    result = Result("global", str(target), chain, changed=changed)
    info = _discover(cwd)
    if info is not None and info.worktree is not None:
        from traces_git.config import Config

        note = _sync_call("ensure_configured", info, Config.load(info.worktree))
        if note:
            result.notes.append(note)
        result.repo = info.display
        _explain_local_override(info, result)
    return result


def _install_repo(cwd: str | None, python: str | None) -> Result:
    info = _discover(cwd)
    if info is None:
        raise UsageError("not inside a git repository (install --repo works on the current one)")
    records = load_records()
    key = os.path.realpath(info.common_dir)
    record = records["repos"].get(key) or {}
    target = repo_hooks_dir(info.common_dir)
    config_file = Path(info.common_dir) / "config"
    cwd_repo = info.worktree or info.common_dir
    current = _config_get(["--local"], "core.hooksPath", cwd_repo)

    if current is not None and _same_dir(current, target, cwd_repo):
        previous_local = record.get("previous_local")
        chain = record.get("previous")
        changed = False
    else:
        previous_local = None if current is None or is_our_hooks_dir(current) else current
        chain = previous_local
        if chain is None:
            # No local hooks path: the global (else system) one was in effect, unless it
            # is ours (then our global hooks did the chaining and these take over).
            outer = _config_get(["--global"], "core.hooksPath")
            if outer is None:
                outer = _foreign_hooks_path(["--system"])
            if outer and not is_our_hooks_dir(outer):
                chain = outer
        changed = True
    if not record:
        record = {
            "config_file": str(config_file),
            "had_core_section": _has_section(config_file, "core"),
        }
    record.update(
        {
            "hooks_dir": str(target),
            "previous_local": previous_local,
            "previous": chain,
            "python": python or sys.executable,
            "installed_at": time.time(),
            "worktree": info.worktree,
        }
    )
    write_hooks(
        target,
        python,
        _chain_path(chain),
        [os.path.join(info.common_dir, "hooks"), _in_worktree(_chain_path(chain), info)],
    )
    if changed:
        _set_hooks_path(["--local"], str(target), cwd_repo)
    records["repos"][key] = record
    save_records(records)

    result = Result("repo", str(target), chain, repo=info.display, changed=changed)
    if info.worktree is not None:
        from traces_git.config import Config

        note = _sync_call("ensure_configured", info, Config.load(info.worktree))
        if note:
            result.notes.append(note)
    return result


def _in_worktree(path: str | None, info: RepoInfo) -> str | None:
    """A relative hooks path as git resolves it for a hook: against the work tree's top."""
    if path is None or os.path.isabs(path) or info.worktree is None:
        return path
    return os.path.join(info.worktree, path)


def _foreign_hooks_path(scope_args: list[str]) -> str | None:
    """core.hooksPath at that scope when it is set and not ours."""
    if scope_args == ["--system"] and os.environ.get("GIT_CONFIG_NOSYSTEM"):
        return None
    value = _config_get(scope_args, "core.hooksPath")
    return None if not value or is_our_hooks_dir(value) else value


def _chain_path(previous: str | None) -> str | None:
    """The hooks path as the dispatcher uses it: ``~`` expanded (git expands it too).

    A relative path stays relative: git resolves it against the directory hooks
    run in (the top of the work tree), and so does the dispatcher.
    """
    if not previous:
        return None
    return os.path.expanduser(previous)


def _same_dir(value: str, target: Path, base: str | None = None) -> bool:
    path = os.path.expanduser(value)
    if base and not os.path.isabs(path):
        path = os.path.join(base, path)
    return os.path.realpath(path) == os.path.realpath(target)


def _explain_local_override(info: RepoInfo, result: Result) -> None:
    """A repo-local hooks path (husky) wins over the global one: say so at install time."""
    local = _config_get(["--local"], "core.hooksPath", info.worktree)
    if local and not is_our_hooks_dir(_resolve(local, info.worktree)):
        result.notes.append(
            f"this repository sets its own core.hooksPath ({local}), which wins over the "
            "global one: run `traces-git install --repo` here so both run"
        )


def _resolve(value: str, base: str | None) -> str:
    path = os.path.expanduser(value)
    if base and not os.path.isabs(path):
        path = os.path.join(base, path)
    return path


# ---------------------------------------------------------------- uninstall


def uninstall(*, repo: bool = False, cwd: str | None = None) -> Result:
    """Put back exactly what ``install`` replaced and remove only what it added."""
    if repo:
        return _uninstall_repo(cwd)
    return _uninstall_global(cwd)


def _uninstall_global(cwd: str | None) -> Result:
    records = load_records()
    record = records.get("global")
    target = global_hooks_dir()
    current = _config_get(["--global"], "core.hooksPath")
    result = Result("global", str(target), changed=False)

    info = _discover(cwd)
    if info is not None and info.worktree is not None:
        result.repo = info.display
    result.notes.extend(_unconfigure_all(info))

    if record is None and not (current and _same_dir(current, target)):
        remove_hooks(target)
        result.notes.append("traces-git was not installed globally")
        return result

    previous = (record or {}).get("previous")
    result.previous = previous
    if current is not None and _same_dir(current, target):
        if previous:
            _set_hooks_path(["--global"], previous)
        else:
            _unset_hooks_path(["--global"])
        result.changed = True
    elif current is not None:
        result.notes.append(
            f"core.hooksPath now points to {current} (changed since install): left as it is"
        )
    if record:
        config_file = Path(record.get("config_file") or global_config_file())
        if not record.get("had_core_section", True):
            _drop_empty_section(["--global"], "core", None)
        if not record.get("config_file_existed", True):
            _remove_if_empty(config_file)
    remove_hooks(target)
    records["global"] = None
    save_records(records)
    return result


def _uninstall_repo(cwd: str | None) -> Result:
    info = _discover(cwd)
    if info is None:
        raise UsageError("not inside a git repository (uninstall --repo works on the current one)")
    records = load_records()
    key = os.path.realpath(info.common_dir)
    record = records["repos"].get(key)
    target = repo_hooks_dir(info.common_dir)
    cwd_repo = info.worktree or info.common_dir
    current = _config_get(["--local"], "core.hooksPath", cwd_repo)
    result = Result("repo", str(target), repo=info.display, changed=False)

    if info.worktree is not None:
        note = _sync_call("unconfigure", info)
        if note:
            result.notes.append(note)

    if record is None and not (current and _same_dir(current, target, cwd_repo)):
        remove_hooks(target)
        result.notes.append("traces-git was not installed for this repository")
        return result

    previous_local = (record or {}).get("previous_local")
    result.previous = previous_local
    if current is not None and _same_dir(current, target, cwd_repo):
        if previous_local:
            _set_hooks_path(["--local"], previous_local, cwd_repo)
        else:
            _unset_hooks_path(["--local"], cwd_repo)
        result.changed = True
    elif current is not None:
        result.notes.append(
            f"core.hooksPath now points to {current} (changed since install): left as it is"
        )
    if record and not record.get("had_core_section", True):
        _drop_empty_section(["--local"], "core", cwd_repo)
    remove_hooks(target)
    try:
        target.parent.rmdir()
    except OSError:
        pass
    records["repos"].pop(key, None)
    save_records(records)
    return result


def _remove_if_empty(path: Path) -> None:
    try:
        if path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass
