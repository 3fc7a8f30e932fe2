"""The GitHub Action's own script (action.yml, step ``run``), run by bash with the variables
a runner sets, against the forge server on 127.0.0.1 and real git remotes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.ci.test_ci_comment import GH, WRITE, pr  # noqa: F401 - fixture
from tests.ci.test_ci_remap import merged  # noqa: F401 - fixture
from tests.helpers import ROOT, git
from tests.helpers.ci import (
    bare_remote,
    github_env,
    pull_request_event,
    remote_note,
    shallow_checkout,
)
from tests.helpers.forge_server import ForgeServer


def action_script() -> str:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    return next(step["run"] for step in action["runs"]["steps"] if step.get("id") == "run")


def runner(tmp: Path) -> dict:
    """RUNNER_TEMP with the venv layout the install step makes, and traces-git on PATH."""
    temp = tmp / "runner-temp"
    bin_dir = temp / "traces-git" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    shim = bin_dir / "traces-git"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m traces_git "$@"\n')
    shim.chmod(0o755)
    return {"RUNNER_TEMP": str(temp), "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def run_action(cwd: Path, env: dict, **inputs: str) -> subprocess.CompletedProcess:
    values = {"MODE": "report", "COMMENT": "true", "TRACES_API_KEY": "", "PR_NUMBER": ""}
    values.update(inputs)
    return subprocess.run(
        ["bash", "-e", "-c", action_script()],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env, **values},
        timeout=300,
    )


def outputs(tmp: Path) -> dict:
    lines = (tmp / "github_output.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def checkout(world: dict) -> Path:
    """The pull request pushed to a remote, and the one-commit checkout actions/checkout makes."""
    _remote, url = bare_remote(world["tmp"] / "remote.git")
    git("remote", "add", "origin", url, cwd=world["work"])
    git("push", "-q", "origin", "main", "feature", "refs/notes/traces", cwd=world["work"])
    return shallow_checkout(world["tmp"] / "checkout", url, world["head"])


def test_report_mode_comments_and_sets_the_outputs(pr, tmp_path):  # noqa: F811
    with ForgeServer() as server:
        env = {
            **github_env(pr["tmp"], pr["event"]),
            **runner(tmp_path),
            "GITHUB_API_URL": server.url,
            "GITHUB_REPOSITORY": "octo/repo",
            "GITHUB_TOKEN": WRITE,
        }
        # base..head from the event; notes and history fetched by traces-git
        proc = run_action(checkout(pr), env, PR_NUMBER="7")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("created comment")
        assert "trace-alpha" in server.state.threads[GH][0].body
    assert outputs(pr["tmp"]) == {"trace-count": "1", "trace-ids": "trace-alpha"}


def test_report_mode_without_comment_only_writes_the_summary(pr, tmp_path):  # noqa: F811
    env = {**github_env(pr["tmp"], pr["event"]), **runner(tmp_path)}
    proc = run_action(checkout(pr), env, COMMENT="false", PR_NUMBER="7")
    assert proc.returncode == 0, proc.stderr
    assert outputs(pr["tmp"])["trace-count"] == "1"
    report = Path(env["RUNNER_TEMP"]) / "traces-git-report.md"
    assert "trace-alpha" in report.read_text()


def test_remap_mode_attaches_pushes_and_sets_the_outputs(merged, tmp_path):  # noqa: F811
    tmp, f, squash = merged["tmp"], merged["f"], merged["squash"]
    clone = shallow_checkout(tmp / "ci", merged["url"], squash)
    event = pull_request_event(
        tmp / "event.json", merged["base"], f[2], commits=3, merged=True, merge_commit=squash
    )
    env = {**github_env(tmp, event), **runner(tmp_path)}
    proc = run_action(clone, env, MODE="remap", PR_NUMBER="1")
    assert proc.returncode == 0, proc.stderr
    assert outputs(tmp) == {"trace-count": "3", "trace-ids": "alpha beta gamma"}
    assert "traces:gamma" in (remote_note(merged["remote"], squash) or "")
    summary = json.loads((Path(env["RUNNER_TEMP"]) / "traces-git-remap.json").read_text())
    assert summary["push"]["outcome"] == "pushed"


def test_an_unknown_mode_fails_in_one_line(tmp_path):
    proc = run_action(tmp_path, runner(tmp_path), MODE="explode")
    assert proc.returncode == 2
    assert proc.stderr == "traces-git: mode must be report or remap, not 'explode'\n"
