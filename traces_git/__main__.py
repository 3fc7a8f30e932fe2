"""``traces-git`` entry point.

``traces-git hook NAME`` runs on every commit: it skips the CLI framework
(click) and goes straight to the hook runner; so do the plain forms of
``attach``, ``detach`` and ``log`` (``traces_git.fastpath``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["hook"] and not ({"--help", "-h"} & set(args[1:2])):
        from traces_git.hook import entry as hooks

        code = hooks.main(args[1:])
        if argv is None:  # this process is the hook's own (the dispatcher started it)
            hooks.end_process(code)
        return code
    from traces_git import fastpath

    fast_code = fastpath.run(args)
    if fast_code is not None:
        return fast_code
    from traces_git.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
