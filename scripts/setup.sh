#!/usr/bin/env bash
# Set up a development machine (Debian/Ubuntu): system packages, a virtual environment in
# .venv, and ossmedia with every extra at the pinned versions in constraints.txt.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# PostgreSQL: the tests start private servers with initdb (Debian keeps it out of PATH).
command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
  || need_apt+=(postgresql)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)   # the real encoder of the device tests
command -v gst-launch-1.0 >/dev/null 2>&1 \
  || need_apt+=(gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly)
# The camera bundle's tests run ARM root file systems under qemu-user and check the
# systemd unit; debootstrap fetches those root file systems.
command -v qemu-aarch64-static >/dev/null 2>&1 || need_apt+=(qemu-user-static)
command -v qemu-arm-static >/dev/null 2>&1 || need_apt+=(qemu-user-static)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: ossmedia needs Python >= 3.11, found {sys.version.split()[0]}")
PY

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
echo "setup: installing ossmedia[dev] with constraints.txt"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
echo "setup: done"
