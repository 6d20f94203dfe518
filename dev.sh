#!/usr/bin/env bash
# Set up everything stocktaker needs on Debian, Ubuntu or Raspberry Pi OS, then run a job:
#   ./dev.sh demo [ARGS]   the simulated handheld audits the sample room
#   ./dev.sh test [ARGS]   the linter, the module check, the test suite (pytest ARGS), then
#                          the device in a box: the image built (cached) and booted in QEMU
#                          (tests/vm/, as root; --no-vm or STOCKTAKER_SKIP_VM=1 skips it)
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

# The device-in-a-box stage (the last of the tests): skipped only on request.
vm_stage=0
if [ "$job" = test ]; then
  vm_stage=1
  [ "${STOCKTAKER_SKIP_VM:-}" = 1 ] && vm_stage=0
  args=()
  for arg in "$@"; do
    if [ "$arg" = --no-vm ]; then vm_stage=0; else args+=("$arg"); fi
  done
  set -- ${args[@]+"${args[@]}"}
  if [ "$vm_stage" = 1 ] && [ "$(id -u)" -ne 0 ]; then
    echo "the device-in-a-box stage (QEMU) needs root to build its image; run as root, or skip it with ./dev.sh test --no-vm" >&2
    exit 2
  fi
fi

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
if [ "$vm_stage" = 1 ]; then
  # the device in a box: images/vm/build.py and tests/vm/ (a tool, then its package)
  for pair in qemu-system-x86_64:qemu-system-x86 mmdebstrap:mmdebstrap mkfs.vfat:dosfstools \
              mcopy:mtools sfdisk:fdisk debugfs:e2fsprogs mke2fs:e2fsprogs; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
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
    if [ "$vm_stage" = 0 ]; then
      # the summary line says the device in a box was skipped on request
      exec env -u STOCKTAKER_VM STOCKTAKER_SKIP_VM=1 "$venv/bin/python" -m pytest "$@"
    fi
    env -u STOCKTAKER_VM STOCKTAKER_VM_NEXT=1 "$venv/bin/python" -m pytest "$@" || {
      status=$?
      echo "the device-in-a-box stage did not run: the tests before it failed" >&2
      exit "$status"
    }
    # The last stage: the device image built (or taken from its cache) and booted in QEMU,
    # STOCKTAKER_VM_CUTS power cuts (8 here, no new one after STOCKTAKER_VM_CUTS_MINUTES, 10;
    # the 50 of README's run: see "The device in a box"); STOCKTAKER_VM_WORKERS machines at
    # once (2: one a core), a test file's scenarios on one of them, the longest files first.
    echo "device in a box: the image (images/vm/build.py; cached in ~/.cache/stocktaker-vm)"
    if ! image=$("$venv/bin/python" images/vm/build.py | tail -n 1) || [ -z "$image" ]; then
      echo "the device-in-a-box stage failed: its image could not be built (the reason is above; it needs network for Debian's packages and the wheels)" >&2
      exit 1
    fi
    echo "device in a box: $image"
    exec env STOCKTAKER_VM=1 STOCKTAKER_VM_CUTS="${STOCKTAKER_VM_CUTS:-8}" \
      STOCKTAKER_VM_CUTS_MINUTES="${STOCKTAKER_VM_CUTS_MINUTES:-10}" \
      "$venv/bin/python" -m pytest -n "${STOCKTAKER_VM_WORKERS:-2}" --dist loadfile \
      --no-loadscope-reorder -m "vm and not vm_arm64" tests/vm ;;
esac
