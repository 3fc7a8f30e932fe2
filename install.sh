#!/bin/sh
# Install traces-git for this user from this checkout:
#   - an isolated virtual environment in the user's data dir
#     (${XDG_DATA_HOME:-~/.local/share}/traces-git/venv),
#   - `traces-git` linked into ~/.local/bin,
#   - `traces-git install`: the git hooks for every repository of this user.
# Needs only Python >= 3.11 and git. Safe to re-run (upgrades in place).
#
#   sh install.sh              install or upgrade
#   sh install.sh --uninstall  undo all of it (hooks, link, virtual environment)
#
# PYTHON=/path/to/python3 picks the interpreter.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-}
case $data_home in /*) ;; *) data_home=$HOME/.local/share ;; esac
app_dir=$data_home/traces-git
venv=$app_dir/venv
bin_dir=$HOME/.local/bin
link=$bin_dir/traces-git

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

if [ "${1-}" = "--uninstall" ]; then
    if [ -x "$venv/bin/traces-git" ]; then
        "$venv/bin/traces-git" uninstall || die "traces-git uninstall failed; nothing else removed"
    fi
    if [ -L "$link" ]; then
        case $(readlink "$link") in "$venv"/*) rm -f "$link" ;; esac
    fi
    rm -rf "$venv"
    rmdir "$app_dir" 2>/dev/null || true
    say "traces-git uninstalled"
    exit 0
fi
[ $# -eq 0 ] || die "unknown argument: $1 (use --uninstall or nothing)"

command -v git >/dev/null 2>&1 || die "git is not installed"

# A Python >= 3.11: $PYTHON, else the newest python3.x on PATH.
ok_python() {
    "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}
python=
for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && ok_python "$candidate"; then
        python=$(command -v "$candidate")
        break
    fi
done
[ -n "$python" ] || die "Python >= 3.11 with the venv module is needed (set PYTHON=...)"

# (Re)create the venv when missing or broken (e.g. its Python was removed).
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    say "creating a virtual environment in $venv"
    "$python" -m venv "$venv" || die "could not create $venv"
fi

say "installing traces-git from $here"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$here" \
    || die "pip install failed"

mkdir -p "$bin_dir"
ln -sfn "$venv/bin/traces-git" "$link"
"$venv/bin/traces-git" install

case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) say "add $bin_dir to your PATH to run traces-git (e.g. in ~/.profile)" ;;
esac
say "done"
