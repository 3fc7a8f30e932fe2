"""The notes of many commits at once, read with two git processes whatever their number.

``git notes list`` maps every annotated commit to its note blob in one pass over
the notes tree (git handles the fanout); ``git cat-file --batch`` then reads
only the blobs of the commits asked for. Both cost milliseconds for 20,000
notes, against one process per commit for ``git notes show``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

from traces_git import gitcmd
from traces_git.notes.core import NOTES_REF


def start_listing(cwd: str, ref: str = NOTES_REF) -> subprocess.Popen:
    """Start ``git notes list`` (it can run while another git command works)."""
    return subprocess.Popen(
        ["git", "notes", f"--ref={ref}", "list"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=gitcmd.clean_env(),
    )


def finish(listing: subprocess.Popen, cwd: str, shas: Iterable[str]) -> dict[str, str]:
    """{commit sha: note text} for the ``shas`` that have a note; a missing ref is no notes."""
    out, _ = listing.communicate()
    if listing.returncode != 0:
        return {}
    wanted = set(shas)
    blobs: dict[str, str] = {}
    for line in out.decode("ascii", "replace").splitlines():
        blob, _, commit = line.partition(" ")
        if commit in wanted:
            blobs[commit] = blob
    return _cat_blobs(cwd, blobs)


def read_texts(cwd: str, shas: Iterable[str], ref: str = NOTES_REF) -> dict[str, str]:
    return finish(start_listing(cwd, ref), cwd, shas)


def _cat_blobs(cwd: str, blobs: dict[str, str]) -> dict[str, str]:
    if not blobs:
        return {}
    order = list(blobs.items())
    request = "".join(f"{blob}\n" for _, blob in order).encode()
    proc = gitcmd.run(["cat-file", "--batch"], cwd, input=request, check=False)
    data = proc.stdout
    texts: dict[str, str] = {}
    pos = 0
    for commit, _ in order:
        end = data.find(b"\n", pos)
        if end < 0:
            break
        header = data[pos:end].split()
        pos = end + 1
        if len(header) != 3:  # "<oid> missing"
            continue
        size = int(header[2])
        texts[commit] = data[pos : pos + size].decode("utf-8", "replace")
        pos += size + 1
    return texts
