"""What ``traces-git status`` and ``doctor`` report, as plain data.

``collect(cwd)`` gathers everything into one dict (the ``--json`` output);
``render(report)`` turns it into text; ``problems(report)`` lists what doctor
flags, each with a one-line fix. Sections from other modules
(``sync.status_section``, ``upload.status_section``) are included when those
functions exist; a failure in one of them becomes an ``error`` entry, never a
failed status.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
from pathlib import Path

from traces_git import gitcmd, install, log
from traces_git.config import Config, enabled
from traces_git.errors import GitError, StoreError
from traces_git.repo import RepoInfo

PRE_COMMIT_MARKER = b"138fd403232d2ddd5efb44317e38bf03"  # the ID line of pre-commit's hook
PRE_COMMIT_FIX = (
    "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0= pre-commit install"
)
LEFTHOOK_CONFIGS = tuple(
    f"{dot}lefthook.{ext}" for dot in ("", ".") for ext in ("yml", "yaml", "toml", "json")
)
LEFTHOOK_FIX = "GIT_CONFIG_GLOBAL=/dev/null lefthook install"


def collect(cwd: str | None = None) -> dict:
    info = _discover(cwd)
    base = info.worktree or info.common_dir if info else cwd
    config = Config.load(base)
    report: dict = {
        "enabled": enabled(config),
        "installed": installed_section(info),
        "repo": repo_section(info, config) if info else None,
        "store": store_section(config),
        "recent_runs": log.recent_runs(10),
        "shortcut": _shortcut_section(info),
        "log_file": str(log.paths.log_file()),
    }
    # Notes sync is per repository: no section outside one.
    report["notes_sync"] = _foreign_section("traces_git.sync", info, config) if info else None
    report["upload"] = _foreign_section("traces_git.upload", info, config)
    report["conflicts"] = conflicts(report, info)
    return report


def _shortcut_section(info: RepoInfo | None) -> dict | None:
    """Post-commits the dispatcher let through without Python (they are not in runs.jsonl)."""
    if info is None:
        return None
    from traces_git import shortcut

    return shortcut.skipped_summary(info.git_dir)


def _discover(cwd: str | None) -> RepoInfo | None:
    try:
        return RepoInfo.discover(cwd)
    except GitError:
        return None


def _foreign_section(module_name: str, info: RepoInfo | None, config: Config) -> dict | None:
    """``<module>.status_section(repo, config)`` when it exists; never raises."""
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, "status_section", None)
        if function is None:
            return None
        section = function(info, config)
        return section if isinstance(section, dict) else {"value": section}
    except Exception as exc:  # noqa: BLE001 - status must always answer
        log.write(f"{module_name}.status_section failed: {exc}", context="status", exc=exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


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
            "python_present": bool(python) and os.access(python, os.X_OK),
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
                "python_present": bool(python) and os.access(python, os.X_OK),
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
        scope, _, value = proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n").partition(
            "\t"
        )
    ours = install.is_ours(Path(effective) / "post-commit") and (
        Path(effective) / install.DISPATCHER
    ).is_file()
    section = {
        "path": info.display,
        "common_dir": info.common_dir,
        "effective_hooks_path": effective,
        "hooks_path_setting": value,
        "hooks_path_scope": scope,
        "our_hooks_run": ours,
        "husky": bool(value) and _is_husky(value),
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


# ---------------------------------------------------------------- conflicts


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
    if not repo["our_hooks_run"] and repo["hooks_path_scope"] == "local":
        found.append(
            {
                "id": "husky" if repo["husky"] else "local-hooks-path",
                "message": repo["explanation"],
                "fix": "traces-git install --repo",
            }
        )
    hooks_path_set = repo["hooks_path_setting"] is not None
    worktree = Path(info.worktree) if info.worktree else None
    own_hooks = Path(info.common_dir) / "hooks"
    if worktree and (worktree / ".pre-commit-config.yaml").is_file():
        if hooks_path_set and not _contains(own_hooks / "pre-commit", PRE_COMMIT_MARKER):
            found.append(
                {
                    "id": "pre-commit",
                    "message": "pre-commit refuses `pre-commit install` while core.hooksPath "
                    "is set, so this repository's pre-commit hooks are not installed",
                    "fix": PRE_COMMIT_FIX,
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


# ---------------------------------------------------------------- doctor and text


def problems(report: dict) -> list[dict]:
    """What doctor flags: the conflicts plus missing pieces, each with a fix."""
    found = list(report["conflicts"])
    installed = report["installed"]
    if not installed.get("global") and not installed.get("repo"):
        found.insert(
            0,
            {
                "id": "not-installed",
                "message": "traces-git's hooks are not installed",
                "fix": "traces-git install",
            },
        )
    repo = report.get("repo")
    if repo and not repo["our_hooks_run"] and not any(
        p["id"] in {"husky", "local-hooks-path", "not-installed", "global-hooks-path-changed"}
        for p in found
    ):
        found.append(
            {"id": "hooks-not-running", "message": repo["explanation"], "fix": "traces-git install"}
        )
    store = report["store"]
    if not store["found"]:
        found.append(
            {
                "id": "store-missing",
                "message": f"no Traces store at {store['path']}: no trace can be attached",
                "fix": "install the Traces CLI and record a session (or set traces.store)",
            }
        )
    elif store.get("error"):
        found.append({"id": "store-unreadable", "message": store["error"], "fix": "check the file"})
    for name in ("notes_sync", "upload"):
        section = report.get(name)
        if isinstance(section, dict) and section.get("error"):
            found.append(
                {"id": f"{name}-error", "message": f"{name}: {section['error']}", "fix": ""}
            )
    return found


def render(report: dict) -> str:
    lines: list[str] = []
    installed = report["installed"]
    glob = installed.get("global")
    if glob:
        state = "active" if glob["active"] else "NOT active"
        lines.append(f"installed globally: {glob['hooks_dir']} ({state})")
        chained = glob.get("chained_hooks_path") or glob.get("previous_hooks_path")
        if chained:
            lines.append(f"  chains to the previous hooks path: {chained}")
    else:
        lines.append("installed globally: no")
    repo_install = installed.get("repo")
    if repo_install:
        state = "active" if repo_install["active"] else "NOT active"
        lines.append(f"installed for this repository: {repo_install['hooks_dir']} ({state})")
        if repo_install.get("previous_hooks_path"):
            lines.append(f"  chains to: {repo_install['previous_hooks_path']}")
    if not report["enabled"]:
        lines.append("traces-git is switched off here (traces.enabled=false or TRACES_GIT=0)")
    repo = report.get("repo")
    if repo:
        lines.append(f"repository: {repo['path']}")
        lines.append(f"  effective hooks path: {repo['effective_hooks_path']}")
        lines.append(f"  {repo['explanation']}")
    else:
        lines.append("repository: not inside one")
    store = report["store"]
    if store["found"]:
        version = store.get("user_version")
        extra = f", error: {store['error']}" if store.get("error") else ""
        lines.append(f"Traces store: {store['path']} (schema user_version {version}{extra})")
    else:
        lines.append(f"Traces store: not found at {store['path']}")
    for name, title in (("notes_sync", "notes sync"), ("upload", "upload")):
        section = report.get(name)
        if section and section.get("summary"):
            # The section's own one-line summary; `--json` has every field.
            lines.append(f"{title}: {section['summary']}")
            if section.get("last_error"):
                lines.append(f"  last error: {_short(section['last_error'])}")
        elif section:
            text = ", ".join(f"{k}: {_short(v)}" for k, v in section.items())
            lines.append(f"{title}: {text}")
    runs = report["recent_runs"]
    if runs:
        lines.append("last hook runs:")
        for run in runs[-5:]:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.get("time", 0)))
            detail = f" ({run['detail']})" if run.get("detail") else ""
            lines.append(
                f"  {when} {run.get('hook')} {run.get('outcome')} {run.get('repo')}{detail}"
            )
    else:
        lines.append("last hook runs: none yet")
    skipped = report.get("shortcut")
    if skipped:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(skipped["time"]))
        lines.append(
            f"  {when} post-commit skipped {skipped['count']} commit(s) without Python since the "
            f"last full run (nothing could match; last {skipped['commit'][:12]})"
        )
    if report["conflicts"]:
        lines.append("conflicts:")
        for item in report["conflicts"]:
            lines.append(f"  {item['message']}")
            lines.append(f"    fix: {item['fix']}")
    return "\n".join(lines)


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
