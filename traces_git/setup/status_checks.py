"""The checks behind ``traces-git status`` and ``doctor``: plain data, no text.

``collect(cwd)`` runs every entry of :data:`SECTIONS` and gathers the results
into one dict (the ``--json`` output), then :func:`conflicts` over it;
``traces_git.setup.status`` renders it. To add a section, write a function
``(Check) -> dict | None`` and list it in :data:`SECTIONS`; a failing one
becomes an ``error`` entry, never a failed status. Sections owned by other
subpackages (``sync.transfer.status_section``, ``upload.handoff.status_section``)
are plain calls listed the same way.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from traces_git import gitcmd, log
from traces_git.config import Config, enabled
from traces_git.constants import NOTES_REF
from traces_git.errors import GitError, StoreError
from traces_git.hook import late_attach
from traces_git.notes import check as notes_check
from traces_git.notes import pending as pending_notes
from traces_git.repo import RepoInfo
from traces_git.setup import install, pre_commit_fix
from traces_git.sync import transfer
from traces_git.upload import handoff

LEFTHOOK_CONFIGS = tuple(
    f"{dot}lefthook.{ext}" for dot in ("", ".") for ext in ("yml", "yaml", "toml", "json")
)
LEFTHOOK_FIX = "GIT_CONFIG_GLOBAL=/dev/null lefthook install"


class Check:
    """What every check gets: the repository (None outside one) and its config."""

    __slots__ = ("info", "config")

    def __init__(self, info: RepoInfo | None, config: Config):
        self.info = info
        self.config = config


def _installed(check: Check) -> dict:
    return installed_section(check.info)


def _repo(check: Check) -> dict | None:
    return repo_section(check.info, check.config) if check.info else None


def _store(check: Check) -> dict:
    return store_section(check.config)


def _notes_sync(check: Check) -> dict | None:
    # Notes sync is per repository: no section outside one.
    return transfer.status_section(check.info, check.config) if check.info else None


def _notes_format(check: Check) -> dict | None:
    """For ``status``/``doctor``: odd notes refs, and lines that look like ours but fail."""
    if check.info is None:
        return None
    pyrepo = check.info.open()
    remotes = transfer.remotes(check.config)
    refs = [NOTES_REF] + [transfer.tracking_ref(remote) for remote in remotes]
    problems = []
    for ref in refs:
        problem = notes_check.ref_problem(pyrepo, ref)
        if problem:
            problems.append(
                {
                    "id": "odd-notes-ref",
                    "message": f"{problem}: skipped when reading notes, and sync will not merge it",
                    "fix": f"inspect it with `git cat-file -t {ref}`; whoever pushed it can "
                    "push a notes commit over it",
                }
            )
    invalid, read, total = notes_check.invalid_lines(pyrepo, NOTES_REF)
    if invalid:
        problems.append(
            {
                "id": "invalid-note-lines",
                "message": f"{invalid} line(s) in {NOTES_REF} look like trace lines but are "
                "not (bad ID or URL): kept as they are, never read as traces",
                "fix": "none needed; `git notes --ref=traces show <commit>` shows them",
            }
        )
    summary = f"{total} note(s)"
    if read < total:
        summary += f" ({read} checked)"
    summary += f", {invalid} invalid trace line(s)"
    if len(problems) > (1 if invalid else 0):
        summary += ", odd notes refs skipped"
    return {
        "summary": summary,
        "notes": total,
        "checked": read,
        "invalid_lines": invalid,
        "problems": problems,
    }


def _upload(check: Check) -> dict | None:
    return handoff.status_section(check.info, check.config)


def _note_writes(check: Check) -> dict | None:
    # Queued notes, git's stale locks, dead writers' scratch refs: per repository.
    return pending_notes.status_section(check.info, check.config) if check.info else None


def _shortcut(check: Check) -> dict | None:
    """Post-commits the dispatcher let through without Python (they are not in runs.jsonl)."""
    if check.info is None:
        return None
    from traces_git.hook import shortcut

    return shortcut.skipped_summary(check.info.git_dir)


def _late_attach(check: Check) -> dict | None:
    return late_attach.status_section(check.info, check.config)


def _lines(check: Check) -> dict | None:
    from traces_git.lines import status as lines_status

    return lines_status.section(check.info)


def _official_hooks(check: Check) -> dict | None:
    return official_hooks_section(check.info) if check.info else None


# (report key, check): run in this order; the report keeps the keys in this order.
SECTIONS: list[tuple[str, Callable[[Check], dict | None]]] = [
    ("installed", _installed),
    ("repo", _repo),
    ("store", _store),
    ("official_hooks", _official_hooks),
    ("notes_sync", _notes_sync),
    ("notes_format", _notes_format),
    ("upload", _upload),
    ("note_writes", _note_writes),
    ("late_attach", _late_attach),
    ("lines", _lines),
    ("shortcut", _shortcut),
]


def collect(cwd: str | None = None) -> dict:
    info = _discover(cwd)
    base = info.worktree or info.common_dir if info else cwd
    config = Config.load(base)
    check = Check(info, config)
    report: dict = {"enabled": enabled(config)}
    for key, function in SECTIONS:
        report[key] = _guarded(key, function, check)
    report["recent_runs"] = log.recent_runs(10)
    report["log_file"] = str(log.paths.log_file())
    report["conflicts"] = conflicts(report, info)
    return report


def _guarded(key: str, function: Callable[[Check], dict | None], check: Check) -> dict | None:
    try:
        return function(check)
    except Exception as exc:  # noqa: BLE001 - status must always answer
        if key in ("installed", "store"):  # the core sections: a bug here should show
            raise
        log.write(f"status section {key} failed: {exc}", context="status", exc=exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _discover(cwd: str | None) -> RepoInfo | None:
    try:
        return RepoInfo.discover(cwd)
    except GitError:
        return None


# ---------------------------------------------------------------- installation


def installed_section(info: RepoInfo | None) -> dict:
    records = install.load_records()
    global_dir = install.global_hooks_dir()
    global_record = records.get("global")
    current_global = _config(["--global"], "core.hooksPath", None)
    section: dict = {
        "global": None,
        "repo": None,
        "global_hooks_path": current_global,
    }
    if global_record or (global_dir / install.DISPATCHER).is_file():
        active = current_global is not None and install._same_dir(current_global, global_dir)
        python = (global_record or {}).get("python")
        section["global"] = {
            "hooks_dir": str(global_dir),
            "hooks_present": (global_dir / install.DISPATCHER).is_file(),
            "active": active,
            "previous_hooks_path": (global_record or {}).get("previous"),
            "chained_hooks_path": (global_record or {}).get("chain"),
            "python": python,
            "python_present": bool(python and os.access(python, os.X_OK)),
        }
    if info is not None:
        key = os.path.realpath(info.common_dir)
        record = records["repos"].get(key)
        if record:
            repo_dir = Path(record["hooks_dir"])
            local = _config(["--local"], "core.hooksPath", info.worktree or info.common_dir)
            python = record.get("python")
            section["repo"] = {
                "hooks_dir": str(repo_dir),
                "hooks_present": (repo_dir / install.DISPATCHER).is_file(),
                "active": local is not None
                and install._same_dir(local, repo_dir, info.worktree or info.common_dir),
                "previous_hooks_path": record.get("previous"),
                "python": python,
                "python_present": bool(python and os.access(python, os.X_OK)),
            }
    return section


def _config(scope: list[str], key: str, cwd: str | None) -> str | None:
    return install._config_get(scope, key, cwd)


# ---------------------------------------------------------------- this repository


def repo_section(info: RepoInfo, config: Config) -> dict:
    base = info.worktree or info.common_dir
    effective = gitcmd.out(["rev-parse", "--path-format=absolute", "--git-path", "hooks"], base)
    proc = gitcmd.run(["config", "--show-scope", "--get", "core.hooksPath"], base, check=False)
    scope, value = None, None
    if proc.returncode == 0:
        scope, _, value = (
            proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n").partition("\t")
        )
    ours = (
        install.is_ours(Path(effective) / "post-commit")
        and (Path(effective) / install.DISPATCHER).is_file()
    )
    section = {
        "path": info.display,
        "common_dir": info.common_dir,
        "effective_hooks_path": effective,
        "hooks_path_setting": value,
        "hooks_path_scope": scope,
        "our_hooks_run": ours,
        "husky": bool(value and _is_husky(value)),
        "enabled": config.get_bool("traces.enabled", True),
        "explanation": "",
    }
    if ours:
        section["explanation"] = f"traces-git's hooks run here (from {effective})"
    elif scope == "local" and section["husky"]:
        section["explanation"] = (
            f"this repository's own core.hooksPath ({value}, set by husky) wins over the "
            "global one, so traces-git's hooks do not run here; `traces-git install --repo` "
            "installs them for this repository and keeps husky's hooks running"
        )
    elif scope == "local":
        section["explanation"] = (
            f"this repository's own core.hooksPath ({value}) wins over the global one, so "
            "traces-git's hooks do not run here; `traces-git install --repo` fixes it"
        )
    elif value is None:
        section["explanation"] = (
            "no core.hooksPath: traces-git is not installed (`traces-git install`)"
        )
    else:
        section["explanation"] = (
            f"core.hooksPath ({value}, {scope}) is not traces-git's: run `traces-git install`"
        )
    return section


def _is_husky(value: str) -> bool:
    return value.rstrip("/").endswith((".husky/_", ".husky"))


# ---------------------------------------------------------------- store


def store_section(config: Config) -> dict:
    from traces_git import store

    path = store.locate(config.get("traces.store"))
    section: dict = {"path": str(path), "found": path.is_file(), "user_version": None}
    if section["found"]:
        try:
            with store.Store(path) as opened:
                section["user_version"] = opened.user_version
        except StoreError as exc:
            section["error"] = str(exc)
    return section


# ---------------------------------------------------------------- official Traces hooks


def official_hooks_section(info: RepoInfo) -> dict:
    """The official CLI's `traces setup git` hooks in this repository, and what they cost."""
    from traces_git.setup import official_hooks

    found = official_hooks.detect(info.common_dir, info.git_dir)
    found["traces_on_path"] = shutil.which("traces") is not None
    found["fix"] = REMOVE_OFFICIAL_FIX
    return found


REMOVE_OFFICIAL_FIX = "traces-git remove-official-hooks (see first: --dry-run)"


# ---------------------------------------------------------------- conflicts


def unchained_hooks(info: RepoInfo, effective: str, installed: dict) -> list[dict]:
    """A chain-only hook (``install.CHAIN_ONLY_HOOKS``) that would run without traces-git
    but has no stub of ours to chain it here: git no longer runs it."""
    found = []
    scope = "repo" if (installed.get("repo") or {}).get("active") else "global"
    entry = installed.get(scope) or {}
    chain = entry.get("chained_hooks_path", entry.get("previous_hooks_path"))
    for name in install.CHAIN_ONLY_HOOKS:
        if os.path.exists(os.path.join(effective, name)):
            continue
        own = os.path.join(info.common_dir, "hooks", name)
        if install.has_hook(os.path.dirname(own), name):
            where, fix = f"this repository's own {name} hook ({own})", "traces-git install --repo"
        elif install.has_hook(chain, name):
            where = f"the {name} hook of the hooks path traces-git chains to ({chain})"
            fix = "traces-git install" + (" --repo" if scope == "repo" else "")
        else:
            continue
        found.append(
            {
                "id": "unchained-hook",
                "message": f"{where} does not run: traces-git installs {name} only where it "
                "has a hook to chain (git 2.39 runs it twice per ref a fetch moves)",
                "fix": fix,
            }
        )
    return found


def conflicts(report: dict, info: RepoInfo | None) -> list[dict]:
    """Known ways other hook setups and ours get in each other's way, with a fix each."""
    found: list[dict] = []
    installed = report["installed"]
    record = installed.get("global")
    if record and not record["active"]:
        found.append(
            {
                "id": "global-hooks-path-changed",
                "message": "core.hooksPath no longer points to traces-git's hooks "
                f"(now {installed.get('global_hooks_path')})",
                "fix": "traces-git install",
            }
        )
    for scope in ("global", "repo"):
        entry = installed.get(scope)
        if entry and not entry["hooks_present"]:
            found.append(
                {
                    "id": f"{scope}-hooks-missing",
                    "message": f"traces-git's hook scripts are gone from {entry['hooks_dir']}: "
                    "no hook runs there, not even the chained ones",
                    "fix": "traces-git install" + (" --repo" if scope == "repo" else ""),
                }
            )
        if entry and entry.get("python") and not entry["python_present"]:
            found.append(
                {
                    "id": f"{scope}-python-missing",
                    "message": f"the Python the hooks call is gone ({entry['python']})",
                    "fix": "traces-git install" + (" --repo" if scope == "repo" else ""),
                }
            )
    repo = report.get("repo")
    if info is None or repo is None:
        return found
    if repo["our_hooks_run"]:
        found.extend(unchained_hooks(info, repo["effective_hooks_path"], installed))
    if not repo["our_hooks_run"] and repo["hooks_path_scope"] == "local":
        found.append(
            {
                "id": "husky" if repo["husky"] else "local-hooks-path",
                "message": repo["explanation"],
                "fix": "traces-git install --repo",
            }
        )
    official = report.get("official_hooks")
    if official and official.get("installed") and repo["our_hooks_run"]:
        cost = official["cost_per_commit_s"]
        if official.get("runs_on_commit") and official.get("traces_on_path"):
            what = (
                f"the official Traces git hooks (`traces setup git`) also run here: each commit "
                f"starts the Traces binary for the same note (about {cost:g} s per commit, "
                "measured)"
            )
        else:
            what = (
                "the official Traces git hooks (`traces setup git`) are installed here beside "
                "traces-git (they do the same work once the `traces` binary is on PATH, "
                f"about {cost:g} s per commit)"
            )
        late = report.get("late_attach") or {}
        # covered unless the CLI is here and late attach is off: then only they refresh the
        # store (without the CLI they do nothing; with late attach on, traces-git does it)
        if late.get("enabled", True) or not late.get("cli"):
            found.append(
                {
                    "id": "official-hooks",
                    "message": what
                    + (
                        "; traces-git covers what they do here (it refreshes the "
                        "store through the Traces CLI after a commit: late attach)"
                        if late.get("cli")
                        else ""
                    )
                    + "; to keep only the official hooks instead: traces-git uninstall",
                    "fix": REMOVE_OFFICIAL_FIX,
                }
            )
        else:
            found.append(
                {
                    "id": "official-hooks-needed",
                    "message": what + "; keep them for now: with traces.lateAttach off, they are "
                    "what refreshes the Traces store before a commit is attributed",
                    "fix": "git config --global traces.lateAttach true, then "
                    + REMOVE_OFFICIAL_FIX,
                }
            )
    hooks_path_set = repo["hooks_path_setting"] is not None
    worktree = Path(info.worktree) if info.worktree else None
    own_hooks = Path(info.common_dir) / "hooks"
    if worktree and (worktree / ".pre-commit-config.yaml").is_file():
        marker = pre_commit_fix.PRE_COMMIT_MARKER
        if hooks_path_set and not _contains(own_hooks / "pre-commit", marker):
            command = pre_commit_fix.install_command(
                [own_hooks, *_previous_hooks_dirs(report["installed"], info)]
            )
            found.append(
                {
                    "id": "pre-commit",
                    "message": "pre-commit refuses `pre-commit install` while core.hooksPath "
                    "is set, so this repository's pre-commit hooks are not installed",
                    "fix": command or pre_commit_fix.IN_WORDS,
                    "command": command,
                }
            )
    if worktree and any((worktree / name).is_file() for name in LEFTHOOK_CONFIGS):
        if hooks_path_set and not any(
            _contains(p, b"lefthook") for p in _files(own_hooks) if not p.name.endswith(".sample")
        ):
            fix = LEFTHOOK_FIX
            if repo["hooks_path_scope"] == "local":
                fix = "traces-git uninstall --repo && lefthook install && traces-git install --repo"
            found.append(
                {
                    "id": "lefthook",
                    "message": "lefthook refuses to install while core.hooksPath is set "
                    "(and --force would write into traces-git's hooks dir)",
                    "fix": fix,
                }
            )
    if worktree and _uses_lfs(worktree, Path(info.common_dir)) and shutil.which("git-lfs") is None:
        found.append(
            {
                "id": "git-lfs-missing",
                "message": "this repository uses Git LFS but git-lfs is not on PATH",
                "fix": "install git-lfs (e.g. apt-get install git-lfs)",
            }
        )
    return found


def _previous_hooks_dirs(installed: dict, info: RepoInfo) -> list[Path]:
    """The hooks dirs configured before ours (where an older pre-commit hook may still be)."""
    dirs = []
    for scope in ("repo", "global"):
        previous = (installed.get(scope) or {}).get("previous_hooks_path")
        if previous:
            path = Path(os.path.expanduser(previous))
            if not path.is_absolute() and info.worktree:
                path = Path(info.worktree) / path
            dirs.append(path)
    return dirs


def _contains(path: Path, needle: bytes) -> bool:
    try:
        return needle in path.read_bytes()[:200_000]
    except OSError:
        return False


def _files(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.is_file()]
    except OSError:
        return []


def _uses_lfs(worktree: Path, common_dir: Path) -> bool:
    return (common_dir / "lfs").is_dir() or _contains(worktree / ".gitattributes", b"filter=lfs")
