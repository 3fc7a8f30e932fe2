"""The ``traces-git`` command line: a thin click layer over plain functions.

Commands live in ``traces_git.commands`` modules and are imported only when
used, so ``traces-git --help`` and each command stay quick.
"""

from __future__ import annotations

import importlib
import sys

import click

from traces_git import __version__, log
from traces_git.errors import TracesGitError

# command name -> "module:attribute" (a click command)
COMMANDS = {
    "install": "traces_git.commands.setup_cmds:install",
    "uninstall": "traces_git.commands.setup_cmds:uninstall",
    "status": "traces_git.commands.setup_cmds:status",
    "doctor": "traces_git.commands.setup_cmds:doctor",
    "show": "traces_git.commands.notes_cmds:show",
    "log": "traces_git.commands.notes_cmds:log_",
    "attach": "traces_git.commands.notes_cmds:attach",
    "detach": "traces_git.commands.notes_cmds:detach",
    "explain": "traces_git.commands.explain_cmd:explain",
    "sync": "traces_git.commands.sync_cmds:sync",
    "upload": "traces_git.commands.upload_cmds:upload",
    "login": "traces_git.commands.upload_cmds:login",
    "logout": "traces_git.commands.upload_cmds:logout",
    "ci": "traces_git.commands.ci_cmds:ci",
    "relink": "traces_git.commands.relink_cmd:relink",
    "blame": "traces_git.commands.blame_cmds:blame",
    "stats": "traces_git.commands.blame_cmds:stats",
    "hook": "traces_git.commands.hook_cmd:hook",
    "remove-official-hooks": "traces_git.commands.official_cmd:remove_official_hooks",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="traces-git")
def cli() -> None:
    """Link every commit to the AI-agent traces that produced it."""


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="traces-git", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("traces-git: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except TracesGitError as exc:
        click.echo(f"traces-git: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line to the user, details to the log
        log.write(f"unexpected error: {exc}", context="cli", exc=exc)
        click.echo(
            f"traces-git: unexpected error: {type(exc).__name__}: {exc} "
            f"(details in {log.paths.log_file()})",
            err=True,
        )
        return 3
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
