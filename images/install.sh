#!/usr/bin/env bash
# Install stocktaker as a service on Raspberry Pi OS (Bookworm or Trixie) or Debian 12+,
# from a clone of the repository:
#
#   sudo ./images/install.sh               the running system
#   sudo ./images/install.sh --image       inside an image being built (pi-gen chroot):
#                                          apt runs, nothing is started or reloaded
#   sudo ./images/install.sh --root DIR    lay the files out under DIR (DESTDIR=DIR works
#                                          too): no apt, nothing started; for checking
#                                          what is installed (the venv's paths point into DIR)
#   --wheels DIR                           pip installs offline, only from the wheels in DIR
#
# It installs the apt packages (python3-picamera2 and python3-lgpio only where the archive
# has them: Raspberry Pi OS does, Debian does not), enables I2C, creates the 'stocktaker' system user and its
# device groups, a venv in /opt/stocktaker/venv that sees apt's picamera2 and libcamera,
# the package, the systemd units and udev rules, /etc/stocktaker/config.toml (only when
# missing: an admin's file is never overwritten) and the token file (mode 0600), and
# enables the units. Running it again changes nothing unless the source changed.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

root=${DESTDIR:-/}
apt=yes     # install apt packages
live=yes    # the system is running: reload systemd and udev, start the service
wheels=""   # a folder of wheels: pip installs from it alone, offline
while (($#)); do
  case "$1" in
    --root) root=${2:?--root needs a folder}; shift 2 ;;
    --image) live=no; shift ;;
    --wheels) wheels=$(cd "${2:?--wheels needs a folder}" && pwd) || exit 2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
root=${root%/}
if [ -n "$root" ]; then
  apt=no; live=no
  [ -d "$root" ] || { echo "install.sh: $root is not a folder" >&2; exit 2; }
fi
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo $0)" >&2; exit 1; }

src=$(cd "$(dirname "$0")/.." && pwd)
user=stocktaker
opt=/opt/stocktaker
# dosfstools and exfatprogs: the USB stick's check before it is mounted (fsck.vfat, fsck.exfat)
packages=(python3-venv python3-dev gcc libzbar0 python3-evdev python3-numpy python3-pil
          dosfstools exfatprogs)
# only in Raspberry Pi OS's archive: installed where apt has them, left out elsewhere
pi_packages=(python3-picamera2 python3-lgpio)
groups=(input video i2c gpio spi dialout)
changed=()

say() { echo "stocktaker install: $*"; }

# --- apt packages --------------------------------------------------------------------------
install_packages() {
  local missing=() pi_missing=() package
  for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
  done
  for package in "${pi_packages[@]}"; do
    installed "$package" || pi_missing+=("$package")
  done
  ((${#missing[@]} + ${#pi_missing[@]})) || return 0
  apt-get update -qq
  for package in "${pi_missing[@]}"; do
    if in_archive "$package"; then
      missing+=("$package")
    else
      say "$package: not in this system's apt archive (Raspberry Pi OS only), left out"
    fi
  done
  ((${#missing[@]})) || return 0
  say "apt packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  changed+=(packages)
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# a package apt can install: it has a candidate version (not just a name some other
# package mentions)
in_archive() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

# --- user and groups (read from the root's own files, so --root sees the same) -------------
has_group() { grep -q "^$1:" "$root/etc/group"; }
in_group() { grep -q "^$1:[^:]*:[^:]*:\(.*,\)\{0,1\}$2\(,.*\)\{0,1\}$" "$root/etc/group"; }

create_user() {
  local group
  for group in "${groups[@]}"; do
    has_group "$group" || { groupadd --root "$root/" --system "$group"; changed+=("group $group"); }
  done
  if ! grep -q "^$user:" "$root/etc/passwd"; then
    useradd --root "$root/" --system --user-group --home-dir /var/lib/stocktaker \
      --no-create-home --shell /usr/sbin/nologin --comment "stocktaker asset scanner" "$user"
    changed+=("user $user")
  fi
  for group in "${groups[@]}"; do
    in_group "$group" "$user" || { usermod --root "$root/" -aG "$group" "$user"; changed+=("$user in $group"); }
  done
}

uid_of() { awk -F: -v u="$1" '$1 == u { print $3 }' "$root/etc/passwd"; }
gid_of() { awk -F: -v g="$1" '$1 == g { print $3 }' "$root/etc/group"; }

# --- files: written only when their content differs ----------------------------------------
# put MODE OWNER:GROUP SOURCE TARGET  (owner and group by name, looked up in the root)
put() {
  local mode=$1 owner=$2 source=$3 target=$root$4
  if ! cmp -s "$source" "$target"; then
    install -D -m "$mode" "$source" "$target"
    changed+=("$4")
  fi
  ensure "$mode" "$owner" "$4"
}

# ensure MODE OWNER:GROUP PATH  mode and owner, set only when they differ
ensure() {
  local mode=$1 uid gid target=$root$3
  uid=$(uid_of "${2%%:*}"); gid=$(gid_of "${2##*:}")
  [ "$(stat -c %a "$target")" = "${mode#0}" ] || chmod "$mode" "$target"
  [ "$(stat -c %u:%g "$target")" = "$uid:$gid" ] || chown "$uid:$gid" "$target"
}

folder() {  # folder MODE OWNER:GROUP PATH
  [ -d "$root$3" ] || { mkdir -p "$root$3"; changed+=("$3/"); }
  ensure "$@"
}

install_files() {
  folder 0755 root:root "$opt"
  folder 0755 root:root "$opt/libexec"
  folder 0755 root:root "$opt/docs"
  folder 0750 root:$user /etc/stocktaker
  folder 0755 $user:$user /var/lib/stocktaker
  folder 0755 $user:$user /var/lib/stocktaker/metrics
  folder 0755 root:root /media/stocktaker
  local unit
  for unit in stocktaker.service stocktaker-sync.service stocktaker-sync.timer \
      stocktaker-firstboot.service media-stocktaker.mount; do
    put 0644 root:root "$src/systemd/$unit" "/etc/systemd/system/$unit"
  done
  put 0644 root:root "$src/systemd/99-stocktaker.rules" /etc/udev/rules.d/99-stocktaker.rules
  put 0755 root:root "$src/images/first-boot.py" "$opt/libexec/first-boot.py"
  put 0644 root:root "$src/images/config.toml.in" "$opt/config.toml.in"
  put 0644 root:root "$src/README.md" "$opt/README.md"
  put 0644 root:root "$src/docs/operations.md" "$opt/docs/operations.md"
  printf 'i2c-dev\n' > "$tmp/modules"
  put 0644 root:root "$tmp/modules" /etc/modules-load.d/stocktaker.conf
}

# --- the configuration and the token: created when missing, never overwritten ---------------
install_config() {
  local config=/etc/stocktaker/config.toml device_id=stocktaker name
  if [ ! -e "$root$config" ]; then
    name=$(cat "$root/etc/hostname" 2>/dev/null || true)
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] && device_id=$name
    sed "s/@DEVICE_ID@/$device_id/" "$src/images/config.toml.in" > "$tmp/config.toml"
    put 0640 root:$user "$tmp/config.toml" "$config"
    # first-boot.py may rewrite the file as long as it is still this one
    sha256sum < "$tmp/config.toml" | cut -d' ' -f1 > "$tmp/config.sha256"
    put 0644 root:root "$tmp/config.sha256" "$opt/config.toml.installed.sha256"
  fi
  ensure 0640 root:$user "$config"
  if [ ! -e "$root/etc/stocktaker/token" ]; then
    install -m 0600 /dev/null "$root/etc/stocktaker/token"
    changed+=(/etc/stocktaker/token)
  fi
  ensure 0600 $user:$user /etc/stocktaker/token
}

# --- I2C for the OLED ------------------------------------------------------------------------
enable_i2c() {
  local boot_config=$root/boot/firmware/config.txt line
  if [ ! -f "$boot_config" ]; then
    say "no /boot/firmware/config.txt (not a Raspberry Pi OS boot partition): I2C left as it is"
    return 0
  fi
  for line in dtparam=i2c_arm=on dtparam=i2c_arm_baudrate=400000; do
    if ! grep -qx "$line" "$boot_config"; then
      printf '%s\n' "$line" >> "$boot_config"
      changed+=("config.txt $line")
    fi
  done
}

# --- the venv and the package: reinstalled only when the source changed ---------------------
source_hash() {
  (cd "$src" && find pyproject.toml README.md firmware hal sync -type f \
    ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum) \
    | sha256sum | cut -d' ' -f1
}

install_venv() {
  local venv=$root$opt/venv want
  if [ ! -x "$venv/bin/python" ]; then
    # system site packages: apt's picamera2 and libcamera are not on PyPI
    python3 -m venv --system-site-packages "$venv"
    changed+=("$opt/venv")
  fi
  want=$(source_hash)
  [ "$(cat "$root$opt/.installed" 2>/dev/null || true)" = "$want" ] && return 0
  say "installing the package into $opt/venv"
  # a copy, so that the build leaves nothing in the source tree
  mkdir -p "$tmp/src"
  (cd "$src" && cp -r pyproject.toml README.md firmware hal sync "$tmp/src/")
  local offline=()
  [ -n "$wheels" ] && offline=(--no-index --find-links "$wheels")
  # with the v4l2 extra (linuxpy, pure Python): a USB webcam works as installed; with
  # zxing-cpp: the camera's default decoder reads what zbar alone does not
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${offline[@]}" \
    "$tmp/src[v4l2,zxing]"
  printf '%s\n' "$want" > "$root$opt/.installed"
  changed+=(package)
}

# --- units -----------------------------------------------------------------------------------
enable_units() {
  local unit
  for unit in stocktaker.service stocktaker-firstboot.service media-stocktaker.mount; do
    if ! systemctl --root="$root/" is-enabled --quiet "$unit" 2>/dev/null; then
      systemctl --root="$root/" --quiet enable "$unit"
      changed+=("enabled $unit")
    fi
  done
}

reload_running_system() {
  systemctl daemon-reload
  udevadm control --reload-rules
  udevadm trigger --subsystem-match=input --subsystem-match=tty
  if systemctl is-active --quiet stocktaker.service; then
    systemctl restart stocktaker.service
  else
    systemctl start --no-block stocktaker.service
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ "$apt" = yes ] && install_packages
create_user
install_files
install_config
enable_i2c
install_venv
enable_units
[ "$live" = yes ] && reload_running_system

if ((${#changed[@]})); then
  say "changed: ${changed[*]}"
else
  say "nothing to change"
fi
if [ -z "$root" ] || [ "$live" = yes ]; then
  say "configuration: /etc/stocktaker/config.toml; status: systemctl status stocktaker"
fi
