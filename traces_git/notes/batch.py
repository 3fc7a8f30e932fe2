"""The notes of chosen commits, read with one ``git cat-file --batch`` whatever their number.

A view reads the notes of the commits it lists, never the whole notes tree:
:class:`NotesReader` walks the notes tree from its root down only the fanout
paths of the commits asked for (git's 2/38, 2/2/36 ... or a flat tree written
by libgit2), one level at a time, every object of a level requested in one
pipelined write. So the cost follows the commits shown: ``log -n 1`` reads the
root tree, one subtree and one blob, with 2,000 notes or 200,000. Works in
sha1 and sha256 repositories alike (no pygit2: libgit2 cannot open sha256 ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from traces_git import gitcmd
from traces_git.notes.core import NOTES_REF

# Requests per write: below a pipe's 64 KiB, so a write into the (drained) pipe never
# blocks while cat-file waits for us to read its answers.
_BATCH = 512
# A note bigger than this is cut at its last line break before the limit: a view
# never holds a hostile 1 GB note in memory.
MAX_NOTE_BYTES = 16 << 20  # a note past this is hostile: read its first 16 MiB
_HEX = frozenset("0123456789abcdef")


# A tree smaller than this is searched in place (one bytes.find per lookup, in C); a bigger
# one (a flat tree of thousands of notes, as libgit2 writes them) is parsed once into dicts.
_SEARCH_IN_PLACE = 16 << 10
# A tree searched more often than this is parsed into dicts (the root of a big range).
_FINDS_BEFORE_PARSING = 64


class _Tree:
    """One notes tree level: the blob named ``rest`` and the subtree named ``rest[:2]``."""

    __slots__ = ("data", "oid_len", "blobs", "trees", "uses")

    def __init__(self, data: bytes, oid_len: int):
        self.oid_len = oid_len
        self.uses = 0
        self.data: bytes | None = data
        self.blobs: dict[str, str] | None = None
        self.trees: dict[str, str] | None = None
        if len(data) > _SEARCH_IN_PLACE:
            self.blobs, self.trees = parse_tree(data, oid_len)
            self.data = None

    def _find(self, name: str, modes: tuple[bytes, ...]) -> str | None:
        # An entry is "<mode> <name>\0<raw oid>"; a match must start the tree or follow the
        # NUL and raw oid of the entry before it. (" <name>\0" with a mode before it, inside
        # a random 20- or 32-byte oid, right after a NUL, is as likely as a hash collision.)
        data = self.data
        assert data is not None
        key = b" " + name.encode("ascii") + b"\0"
        at = data.find(key)
        while at >= 0:
            for mode in modes:
                start = at - len(mode)
                after_entry = start > self.oid_len and data[start - self.oid_len - 1] == 0
                if data[start:at] == mode and (start == 0 or after_entry):
                    return data[at + len(key) : at + len(key) + self.oid_len].hex()
            at = data.find(key, at + 1)
        return None

    def _parsed(self) -> bool:
        """Whether the entries are in dicts; a tree asked often (the root) is parsed once."""
        if self.blobs is None:
            self.uses += 1
            if self.uses <= _FINDS_BEFORE_PARSING:
                return False
            self.blobs, self.trees = parse_tree(self.data, self.oid_len)  # type: ignore[arg-type]
            self.data = None
        return True

    def blob(self, name: str) -> str | None:
        if self._parsed():
            return self.blobs.get(name)  # type: ignore[union-attr]
        return self._find(name, _BLOB_MODES)

    def tree(self, name: str) -> str | None:
        if self._parsed():
            return self.trees.get(name)  # type: ignore[union-attr]
        return self._find(name, _TREE_MODES)


_BLOB_MODES = (b"100644", b"100755")
_TREE_MODES = (b"40000",)


def parse_tree(data: bytes, oid_len: int) -> tuple[dict[str, str], dict[str, str]]:
    """(blobs, trees): entry name -> oid of a raw tree object (``<mode> <name>\\0<raw oid>``)."""
    blobs: dict[str, str] = {}
    trees: dict[str, str] = {}
    pos, end = 0, len(data)
    while pos < end:
        space = data.find(b" ", pos)
        nul = data.find(b"\0", space)
        if space < 0 or nul < 0 or nul + 1 + oid_len > end:
            break
        mode = data[pos:space]
        name = data[space + 1 : nul].decode("ascii", "replace")
        oid = data[nul + 1 : nul + 1 + oid_len].hex()
        pos = nul + 1 + oid_len
        if mode == b"40000":
            trees[name] = oid
        elif mode[:3] == b"100":
            blobs[name] = oid
    return blobs, trees


class NotesReader:
    """One ``git cat-file --batch`` process answering "the notes of these commits".

    ``refs``: the notes refs to read (their notes on one commit are joined, as
    ``ci`` unions the local ref and the remote's tracking ref). Use as a context
    manager, or call :meth:`close`.
    """

    def __init__(self, cwd: str, refs: Sequence[str] = (NOTES_REF,)):
        self.cwd = cwd
        self.refs = list(refs)
        self._proc: gitcmd.Piped | None = None
        self._roots: list[_Tree] | None = None
        self._oid_len = 20
        self._trees: dict[str, _Tree] = {}

    def __enter__(self) -> NotesReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        proc.stdout.close()  # type: ignore[union-attr]
        proc.wait()

    def _start(self) -> gitcmd.Piped:
        if self._proc is None:
            self._proc = gitcmd.piped(["cat-file", "--batch"], self.cwd, stdin=True)
        return self._proc

    def _objects(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """(oid, type, content) per name, None for a missing one; pipelined in batches."""
        proc = self._start()
        answers: list[tuple[str, str, bytes] | None] = []
        try:
            for start in range(0, len(names), _BATCH):
                chunk = names[start : start + _BATCH]
                request = "".join(f"{name}\n" for name in chunk).encode()
                proc.stdin.write(request)  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
                for _ in chunk:
                    answers.append(self._answer(proc))
        except (OSError, EOFError, ValueError):
            # git is gone (not a repository, killed): what it did not answer reads as no note.
            answers += [None] * (len(names) - len(answers))
        return answers

    @staticmethod
    def _answer(proc: gitcmd.Piped) -> tuple[str, str, bytes] | None:
        out = proc.stdout
        header = out.readline()  # type: ignore[union-attr]
        if not header:
            raise EOFError("git cat-file --batch ended early")
        fields = header.split()
        if len(fields) != 3:  # "<name> missing" / "<name> ambiguous"
            return None
        size = int(fields[2])
        if size > MAX_NOTE_BYTES:
            data = out.read(MAX_NOTE_BYTES)  # type: ignore[union-attr]
            remaining = size - MAX_NOTE_BYTES
            while remaining > 0:
                skipped = out.read(min(remaining, 1 << 20))  # type: ignore[union-attr]
                if not skipped:
                    break
                remaining -= len(skipped)
            cut = data.rfind(b"\n")
            data = data[: cut + 1] if cut >= 0 else b""
        else:
            data = out.read(size)  # type: ignore[union-attr]
        out.read(1)  # type: ignore[union-attr]
        return fields[0].decode("ascii"), fields[1].decode("ascii"), data

    def _load_roots(self) -> list[_Tree]:
        if self._roots is None:
            self._roots = []
            for answer in self._objects([f"{ref}^{{tree}}" for ref in self.refs]):
                if answer is None or answer[1] != "tree":
                    continue
                self._oid_len = len(answer[0]) // 2
                self._roots.append(_Tree(answer[2], self._oid_len))
        return self._roots

    def _load_trees(self, oids: Iterable[str]) -> None:
        wanted = [oid for oid in dict.fromkeys(oids) if oid not in self._trees]
        if not wanted:
            return
        for oid, answer in zip(wanted, self._objects(wanted), strict=True):
            tree = answer[2] if answer is not None and answer[1] == "tree" else b""
            self._trees[oid] = _Tree(tree, self._oid_len)

    def prepare(self) -> None:
        """Start git and read the root trees now (while another git command runs)."""
        self._load_roots()

    def read(self, shas: Iterable[str]) -> dict[str, str]:
        """{commit sha: note text} for the ``shas`` with a note in any of the refs."""
        commits = [
            sha.lower() for sha in dict.fromkeys(shas) if sha and not set(sha.lower()) - _HEX
        ]
        if not commits:
            return {}
        roots = self._load_roots()
        if not roots:
            return {}
        found: dict[str, list[str]] = {}  # commit -> blob oids, in ref and depth order
        for root in roots:
            level = [(sha, root) for sha in commits]
            depth = 0
            while level:
                below: list[tuple[str, str]] = []
                for sha, tree in level:
                    rest = sha[2 * depth :]
                    blob = tree.blob(rest)
                    if blob is not None:
                        found.setdefault(sha, []).append(blob)
                    sub = tree.tree(rest[:2]) if len(rest) > 2 else None
                    if sub is not None:
                        below.append((sha, sub))
                self._load_trees(oid for _, oid in below)
                level = [(sha, self._trees[oid]) for sha, oid in below]
                depth += 1
        blobs = list(dict.fromkeys(oid for oids in found.values() for oid in oids))
        texts = {}
        for oid, answer in zip(blobs, self._objects(blobs), strict=True):
            if answer is not None and answer[1] == "blob":
                texts[oid] = answer[2].decode("utf-8", "replace")
        joined: dict[str, str] = {}
        for sha, oids in found.items():
            parts = [texts[oid] for oid in oids if oid in texts]
            if parts:
                joined[sha] = "\n".join(parts) if len(parts) > 1 else parts[0]
        return joined


def for_view(cwd: str, ref: str = NOTES_REF) -> NotesReader:
    """The reader a view uses: ``ref``, and the fetched notes of ``ref`` not merged yet
    (:func:`traces_git.notes.tracking.reader_refs`)."""
    from traces_git.notes import tracking

    return NotesReader(cwd, tracking.reader_refs(cwd, ref))


def read_for_view(cwd: str, shas: Iterable[str], ref: str = NOTES_REF) -> dict[str, str]:
    """{commit sha: note text} as a view shows it (see :func:`for_view`)."""
    with for_view(cwd, ref) as reader:
        return reader.read(shas)


def read_texts(cwd: str, shas: Iterable[str], ref: str = NOTES_REF) -> dict[str, str]:
    """{commit sha: note text} for the ``shas`` that have a note in ``ref``."""
    with NotesReader(cwd, [ref]) as reader:
        return reader.read(shas)


def read_union(cwd: str, refs: Sequence[str], shas: Iterable[str]) -> dict[str, str]:
    """{commit sha: its notes in every ref, joined} (``ci``: local and fetched notes)."""
    with NotesReader(cwd, refs) as reader:
        return reader.read(shas)
