#!/usr/bin/env bash
# Set up everything stocktaker needs on Debian, Ubuntu or Raspberry Pi OS, then run a job:
#   ./dev.sh demo [ARGS]   the simulated handheld audits the sample room
#   ./dev.sh test [ARGS]   the linter, the module check, then the test suite (pytest ARGS)
# It installs missing apt packages (libzbar0, python3-venv), makes .venv and installs the
# package into it (the demo: with zxing-cpp only; the tests: with the test extras too);
# later runs reuse them and reinstall only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

job=${1:-}
case "$job" in
  demo|test) shift ;;
  *) echo "usage: ./dev.sh demo|test [ARGS]" >&2; exit 2 ;;
esac

python3 - <<'PY' || { echo "stocktaker needs Python 3.11 or newer (python3 is older)" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

missing=()
python3 -c 'import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library("zbar") else 1)' \
  || missing+=(libzbar0)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ "$job" = test ]; then
  # the operations tests: systemd-analyze (units), shellcheck (installer)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  # the dashboard's browser tests: a headless Chromium
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
if ((${#missing[@]})); then
  echo "installing apt packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The demo needs stocktaker and zxing-cpp; the tests also need the test extras. One .venv
# serves both, with a stamp per job: the pyproject.toml its packages were installed from.
venv=.venv
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
case "$job" in
  demo) extras=zxing; done_jobs="demo" ;;
  test) extras=test,zxing; done_jobs="demo test" ;;  # what the tests need, the demo has
esac
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ "$(cat "$venv/.stocktaker-installed-$job" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e ".[$extras]"
  for done_job in $done_jobs; do
    echo "$want" > "$venv/.stocktaker-installed-$done_job"
  done
fi

case "$job" in
  demo) exec "$venv/bin/stocktaker" demo "$@" ;;
  test)
    # The build gate before any test: the linter, the type checker on hal and sync (both
    # configured in pyproject.toml), then every module compiled and imported, so a module
    # no test imports cannot hide a syntax error.
    "$venv/bin/ruff" check firmware hal sync tests images
    "$venv/bin/mypy"
    "$venv/bin/python" tests/check_modules.py
    exec "$venv/bin/python" -m pytest "$@" ;;
esac
