#!/bin/sh
# The static checks CI enforces before the test suite (tests/run.sh runs this; so
# does .ci/run through it): lint, format, types, and the hook scripts' shell. The
# import graph (no cycle, each subpackage's allowed imports, the hook's import path)
# is checked by tests/test_architecture.py inside the suite.
#
# Usage: sh tests/checks.sh [ROOT]   (ROOT: a checkout, default this one; the tools
# come from $TRACES_GIT_CHECK_BIN, default ROOT/.venv/bin, pinned in pyproject's
# [test] extra). Exits non-zero, after printing the tool's report, on the first
# check that fails.
set -eu
root=${1:-$(dirname "$0")/..}
cd "$root"
bin=${TRACES_GIT_CHECK_BIN:-$PWD/.venv/bin}
"$bin/ruff" check --quiet traces_git tests bench
"$bin/ruff" format --check --quiet traces_git tests bench
"$bin/mypy" --no-error-summary
"$bin/shellcheck" --shell=sh hooks/traces-git-dispatch hooks/hook-stub
echo "tests/checks.sh: ruff, ruff format, mypy and shellcheck passed"
