"""The second notes ref in the places that move notes between clones (CI side)."""

from __future__ import annotations

from traces_git import gitcmd
from traces_git.lines import LINES_REF


def tracking_ref(remote: str) -> str:
    """Where the remote's line records land: the pattern refspec ``refs/notes/traces*``."""
    return f"refs/notes/remotes/{remote}/traces-lines"


def ci_texts(cwd: str, info, remote: str, *, fetch: bool, shallow: bool,
             shas: list[str]) -> dict[str, str]:
    """{sha: local and remote line-record notes} for ``traces-git ci``; fetches the remote's
    records first when asked (a remote without them is not an error)."""
    from traces_git import ci

    if fetch:
        args = ci._fetch_args(*(["--depth=1"] if shallow else []), remote,
                              f"+{LINES_REF}:{tracking_ref(remote)}")
        gitcmd.run(args, cwd, check=False, env=ci.C_LOCALE)
    refs = [LINES_REF]
    code, _ = gitcmd.fast(["rev-parse", "-q", "--verify", tracking_ref(remote)], cwd)
    if code == 0:
        refs.append(tracking_ref(remote))
    return ci.read_notes(info.open(), refs, shas)
