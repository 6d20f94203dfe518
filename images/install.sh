#!/usr/bin/env bash
# Install stocktaker on an existing Raspberry Pi OS (bookworm or trixie) as a service.
#   sudo ./images/install.sh            from a clone of the repository
# It installs the apt packages, a venv in /opt/stocktaker/venv that sees the system's
# picamera2 and libcamera (they are apt packages, not on PyPI), the package, a
# 'stocktaker' user, a starting configuration and the systemd unit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo $0)" >&2; exit 1; }

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  libzbar0 python3-venv python3-picamera2 >/dev/null

id stocktaker >/dev/null 2>&1 || useradd --system --home /var/lib/stocktaker \
  --shell /usr/sbin/nologin stocktaker
for group in input i2c gpio video; do
  getent group "$group" >/dev/null && usermod -aG "$group" stocktaker
done

install -d /opt/stocktaker /etc/stocktaker
[ -x /opt/stocktaker/venv/bin/python ] || python3 -m venv --system-site-packages /opt/stocktaker/venv
/opt/stocktaker/venv/bin/python -m pip install --quiet --upgrade pip
/opt/stocktaker/venv/bin/python -m pip install --quiet .
install -m 0644 README.md /opt/stocktaker/README.md

if [ ! -e /etc/stocktaker/stocktaker.toml ]; then
  cat > /etc/stocktaker/stocktaker.toml <<'TOML'
[device]
id = "hh-01"
[audit]
technician = ""
[camera]
backend = "none"
[scanner]
backend = "none"
[display]
backend = "oled"
[feedback]
backend = "gpio"
[register]
adapter = "files"
manifest = "/var/lib/stocktaker/expected.csv"
outbox = "/var/lib/stocktaker/out"
[queue]
path = "/var/lib/stocktaker/state"
TOML
fi

install -m 0644 systemd/stocktaker.service /etc/systemd/system/stocktaker.service
systemctl daemon-reload
echo "installed. Configure a reader in /etc/stocktaker/stocktaker.toml, then:"
echo "  systemctl enable --now stocktaker"
