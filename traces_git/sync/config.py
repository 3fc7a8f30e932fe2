"""The git config that makes notes travel: fetch refspecs and notes rewriting.

Per remote we add the fetch refspec
``+refs/notes/traces*:refs/notes/remotes/<remote>/traces*``. It is a pattern
on purpose: git 2.39 fails the whole ``git fetch`` ("fatal: couldn't find
remote ref refs/notes/traces") when a configured refspec names a source ref
the remote lacks, while a pattern that matches nothing is silently skipped.
The pattern also matches ``refs/notes/traces-<x>`` refs; those land beside
the tracking ref and are never merged (only ``.../traces`` is).

``notes.rewriteRef=refs/notes/trace[s]`` (added with ``--add``: the key is
multi-valued) makes amend and rebase carry notes over, and
``notes.rewriteMode=cat_sort_uniq`` (set only when unset) de-duplicates the
lines of squashed commits. The value is a glob on purpose: git expands a glob to
the refs that exist, so a repository with no notes yet rewrites silently, where
the plain name makes every amend, rebase, cherry-pick and pull print "warning:
notes ref refs/notes/traces is invalid". A plain ``refs/notes/traces`` that we
added in an earlier version becomes the glob.

What we added is remembered in the repository's state dir, so that
``unconfigure`` removes exactly that, and so that a refspec the user deleted
is not added back by the next hook.
"""

from __future__ import annotations

import os

from traces_git.constants import NOTES_REF

# Every hook run checks whether the repository is configured: that check needs
# nothing but the config snapshot, so everything else is imported when used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from traces_git.config import Config
    from traces_git.repo import RepoInfo

REWRITE_REF = "refs/notes/trace[s]"  # NOTES_REF as a glob: see the module's docstring
REWRITE_MODE = "cat_sort_uniq"


def refspec(remote: str) -> str:
    return f"+{NOTES_REF}*:refs/notes/remotes/{remote}/traces*"


def remotes(config: Config) -> list[str]:
    """Names of the configured remotes (those with a URL), in config order."""
    names = []
    for key in config.keys():
        if key.startswith("remote.") and key.endswith(".url"):
            name = key[len("remote.") : -len(".url")]
            if name and name not in names:
                names.append(name)
    return names


def is_mirror(config: Config, remote: str) -> bool:
    """A mirror remote (``--mirror``, push or fetch) already moves every ref as it is."""
    fetch = config.get_all(f"remote.{remote}.fetch")
    return config.get_bool(f"remote.{remote}.mirror", False) or any(
        spec.lstrip("+") == "refs/*:refs/*" for spec in fetch
    )


def _wanted(config: Config) -> tuple[list[str], bool, bool]:
    """(remotes lacking our refspec, rewriteRef missing or plain, rewriteMode unset).

    The plain NOTES_REF counts as missing: if we added it (an earlier version), it
    becomes the glob; if someone else did, that is remembered as declined."""
    missing = [
        name
        for name in remotes(config)
        if not is_mirror(config, name)
        and refspec(name) not in config.get_all(f"remote.{name}.fetch")
    ]
    no_rewrite_ref = REWRITE_REF not in config.get_all("notes.rewriteRef")
    no_rewrite_mode = config.get("notes.rewriteMode") is None
    return missing, no_rewrite_ref, no_rewrite_mode


def record_path(common_dir: str) -> Path:
    from traces_git import paths

    return paths.repo_state_dir(common_dir) / "sync" / "config.json"


def _load_record(common_dir: str) -> dict:
    import json

    try:
        data = json.loads(record_path(common_dir).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_record(common_dir: str, record: dict) -> None:
    import json

    path = record_path(common_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True), "utf-8")
    os.replace(tmp, path)


def _git_config(
    repo: RepoInfo, *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    from traces_git import gitcmd

    return gitcmd.run(["--git-dir", repo.common_dir, "config", "--local", *args], check=check)


def _local_config(repo: RepoInfo) -> Config:
    """Only the repository's own config file (not global or system values)."""
    from traces_git.config import Config, _normalize

    proc = _git_config(repo, "--list", "-z", check=False)
    values: dict[str, list[str]] = {}
    for item in proc.stdout.split(b"\0"):
        if item:
            key, _, value = item.decode("utf-8", "surrogateescape").partition("\n")
            values.setdefault(_normalize(key), []).append(value)
    return Config(values)


def ensure_configured(repo: RepoInfo, config: Config) -> bool:
    """Add what is missing; True when the repository's config changed.

    Free (no subprocess, no file read) when the snapshot shows it is done.
    """
    missing, no_ref, no_mode = _wanted(config)
    if not (missing or no_ref or no_mode):
        return False
    from traces_git import paths

    # What is missing was all declined before (the user removed what we added): one
    # small file says so, instead of the lock, the record and a `git config` per run.
    declined = paths.location("state", "repos", paths.repo_key(repo.common_dir), "sync", "declined")
    signature = _signature(missing, no_ref, no_mode)
    try:
        with open(declined, encoding="utf-8") as handle:
            if handle.read() == signature:
                return False
    except (OSError, UnicodeDecodeError):
        pass
    from traces_git.config import Config
    from traces_git.notes.core import _FileLock

    lock = paths.repo_state_dir(repo.common_dir) / "sync" / "config.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with _FileLock(lock):
        record = _load_record(repo.common_dir)
        if not record.get("common_dir"):
            record["common_dir"] = os.path.realpath(repo.common_dir)
        # Re-read under the lock: another hook may just have added the same lines.
        fresh = Config.load(repo.common_dir, env={"GIT_DIR": repo.common_dir})
        missing, no_ref, no_mode = _wanted(fresh)
        seen = set(record.get("remotes_seen", []))
        added: dict[str, str] = dict(record.get("fetch", {}))
        changed = False
        for name in missing:
            if name in seen:
                continue  # we added it once and the user removed it: respect that
            _git_config(repo, "--add", f"remote.{name}.fetch", refspec(name))
            added[name] = refspec(name)
            seen.add(name)
            changed = True
        for name in remotes(fresh):
            seen.add(name)
        plain = NOTES_REF in _local_config(repo).get_all("notes.rewriteRef") if no_ref else False
        if no_ref and plain and record.get("rewrite_ref"):  # ours, from an earlier version
            _git_config(
                repo, "--fixed-value", "--replace-all", "notes.rewriteRef", REWRITE_REF, NOTES_REF
            )
            changed = True
        elif no_ref and not plain and not record.get("rewrite_ref_seen"):
            _git_config(repo, "--add", "notes.rewriteRef", REWRITE_REF)
            record["rewrite_ref"] = True
            changed = True
        if no_mode and not record.get("rewrite_mode_seen"):
            _git_config(repo, "notes.rewriteMode", REWRITE_MODE)
            record["rewrite_mode"] = True
            changed = True
        record["rewrite_ref_seen"] = True
        record["rewrite_mode_seen"] = True
        record["fetch"] = added
        record["remotes_seen"] = sorted(seen)
        _save_record(repo.common_dir, record)
        missing, no_ref, no_mode = _wanted(
            Config.load(repo.common_dir, env={"GIT_DIR": repo.common_dir})
        )
        if missing or no_ref or no_mode:  # left missing on purpose: remember it as declined
            tmp = f"{declined}.{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(_signature(missing, no_ref, no_mode))
            os.replace(tmp, declined)
        else:
            try:
                os.unlink(declined)
            except FileNotFoundError:
                pass
    return changed


def _signature(missing: list[str], no_ref: bool, no_mode: bool) -> str:
    """What was missing from the config, as compared by the declined marker."""
    return (
        "\n".join(
            [
                f"rewriteRef {int(no_ref)}",
                f"rewriteMode {int(no_mode)}",
                *(f"remote {name}" for name in sorted(missing)),
            ]
        )
        + "\n"
    )


def unconfigure(repo: RepoInfo) -> bool:
    """Remove exactly what ``ensure_configured`` added; True when something was removed.

    ``git config --unset`` drops a section header once its last key is gone,
    so a ``[notes]`` section we created disappears with our keys.
    """
    record = _load_record(repo.common_dir)
    removed = False
    local = _local_config(repo)
    # Our refspec is ours alone even without a record (state dir lost or moved repo).
    for name in remotes(local):
        if refspec(name) in local.get_all(f"remote.{name}.fetch"):
            _git_config(
                repo,
                "--fixed-value",
                "--unset-all",
                f"remote.{name}.fetch",
                refspec(name),
                check=False,
            )
            removed = True
    for value in (REWRITE_REF, NOTES_REF):  # NOTES_REF: added by an earlier version
        if record.get("rewrite_ref") and value in local.get_all("notes.rewriteRef"):
            _git_config(
                repo, "--fixed-value", "--unset-all", "notes.rewriteRef", value, check=False
            )
            removed = True
            break
    if record.get("rewrite_mode") and local.get("notes.rewriteMode") == REWRITE_MODE:
        _git_config(repo, "--unset-all", "notes.rewriteMode", check=False)
        removed = True
    # Our cache of each remote's notes (sync.known_ref): not user data.
    from traces_git import gitcmd

    listed = gitcmd.run(
        ["--git-dir", repo.common_dir, "for-each-ref", "--format=%(refname)", "refs/traces-git/"],
        check=False,
    )
    names = listed.stdout.decode("utf-8", "surrogateescape").split()
    if names:
        script = "".join(f"delete {name}\n" for name in names).encode("utf-8", "surrogateescape")
        gitcmd.run(
            ["--git-dir", repo.common_dir, "update-ref", "--stdin"],
            input=script,
            check=False,
            env={"TRACES_GIT_SYNC": "1"},
        )
    for path in (record_path(repo.common_dir), record_path(repo.common_dir).with_name("declined")):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    return removed


def configured_repos() -> list[str]:
    """Common git dirs of the repositories whose config we changed (for uninstall)."""
    import json

    from traces_git import paths

    found = []
    for path in sorted((paths.state_dir() / "repos").glob("*/sync/config.json")):
        try:
            common_dir = json.loads(path.read_text("utf-8")).get("common_dir")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(common_dir, str) and os.path.isdir(common_dir):
            found.append(common_dir)
    return found
