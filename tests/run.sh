#!/bin/sh
# Run the whole test suite: a virtualenv in .venv with traces-git (editable) and
# the test and check tools (pinned in pyproject's [test] extra), the static checks
# (tests/checks.sh), the real third-party tools the coexistence tests use, then pytest.
#
# How tests find the tools this script installs (one rule, the same on every
# machine): explicitly, never through the caller's PATH.
#   - Python tools (pytest, pre-commit) live in .venv and run from the test
#     interpreter's environment (`sys.executable -m pre_commit`, or the console
#     script beside sys.executable);
#   - npm tools (the official Traces CLI, husky, lefthook) live under
#     $TRACES_GIT_TEST_TOOLS (default .venv/tools), found by tests/helpers.tool_path;
#   - git-lfs is a system package (apt-get), on the standard PATH.
# This script puts nothing on PATH. A test whose tool is missing skips and says so.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -qq --disable-pip-version-check -e '.[test]'
# Optional tiers (each test skips when its tool is missing): the official Traces
# CLI, husky and lefthook from npm; git-lfs from Debian.
TOOLS_DIR=${TRACES_GIT_TEST_TOOLS:-$PWD/.venv/tools}
if command -v npm >/dev/null 2>&1 && [ ! -x "$TOOLS_DIR/node_modules/@traces-sh/traces-linux-x64/bin/traces" ]; then
    # --ignore-scripts: lefthook's postinstall would run `lefthook install` in this
    # checkout (a lefthook.yml and a .git/hooks script); none of these needs a script.
    npm install --silent --no-fund --no-audit --ignore-scripts --prefix "$TOOLS_DIR" \
        @traces-sh/traces-linux-x64@0.6.31 husky@9 lefthook@2 >/dev/null 2>&1 \
        || echo "tests/run.sh: npm tools not installed; their tests will skip" >&2
fi
if ! command -v git-lfs >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq git-lfs >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq git-lfs >/dev/null 2>&1; }) \
        || echo "tests/run.sh: git-lfs not installed; its tests will skip" >&2
fi
export TRACES_GIT_TEST_TOOLS="$TOOLS_DIR"
# Lint, format, types and shell first (tests/checks.sh): a failure stops the run.
sh tests/checks.sh
exec .venv/bin/python -m pytest "$@"
