"""The attribution rule: which of a commit's added lines the agent's written text produced.

- A line is the agent's when its text (line endings and trailing whitespace
  normalised) is among the lines that trace's tool calls wrote into that file;
  each written line vouches for one added line (a multiset), traces in note order.
- Otherwise it is the person's (the commit has traces, none of them wrote it).
- Blank and brace-only lines take the attribution of the block around them: the
  nearest non-trivial added line before them in the same run of added lines, else
  the nearest after; a run of trivial lines only is matched like any other line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.lines.diff import FileChange

TRIVIAL_CHARS = frozenset("{}()[];,")


def normalise(line: str) -> str:
    return line.replace("\r", "").rstrip()


def is_trivial(line: str) -> bool:
    stripped = line.strip()
    return not stripped or all(c in TRIVIAL_CHARS for c in stripped)


def written_counter(lines: Iterable[str]) -> Counter:
    return Counter(normalise(line) for line in lines)


def attribute(
    added: Sequence[tuple[int, str]], written: Sequence[tuple[str, Counter]]
) -> list[str | None]:
    """For each added (line number, text): the ID of the trace that wrote it, or None.

    ``written``: (trace ID, its written lines for this file), in note order; the
    counters are consumed.
    """
    owners: list[str | None] = [None] * len(added)
    norm = [normalise(text) for _, text in added]
    trivial = [is_trivial(text) for text in norm]

    def take(text: str) -> str | None:
        for trace_id, counter in written:
            if counter.get(text, 0) > 0:
                counter[text] -= 1
                return trace_id
        return None

    for i, text in enumerate(norm):
        if not trivial[i]:
            owners[i] = take(text)
    for start, end in _runs(added):
        solid = [i for i in range(start, end) if not trivial[i]]
        for i in range(start, end):
            if not trivial[i]:
                continue
            if solid:
                before = [j for j in solid if j < i]
                owners[i] = owners[before[-1]] if before else owners[solid[0]]
            else:
                owners[i] = take(norm[i])
    return owners


def _runs(added: Sequence[tuple[int, str]]) -> Iterable[tuple[int, int]]:
    """[start, end) index runs of consecutive line numbers."""
    start = 0
    for i in range(1, len(added) + 1):
        if i == len(added) or added[i][0] != added[i - 1][0] + 1:
            yield start, i
            start = i


def attribute_files(
    changes: Iterable[FileChange],
    written_by_trace: Mapping[str, Mapping[str, list[str]]],
    order: Sequence[str],
) -> dict[str, list[str | None]]:
    """{path: owners} for each FileChange; ``written_by_trace`` = {trace: {path: lines}}."""
    result = {}
    for change in changes:
        written = [
            (trace_id, written_counter(written_by_trace.get(trace_id, {}).get(change.path, ())))
            for trace_id in order
        ]
        result[change.path] = attribute(change.added, written)
    return result
