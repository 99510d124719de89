#!/usr/bin/env bash
# Installs the Debian packages gridcall needs, only those that are missing, so that a second
# `make install` costs nothing. Runs as root (as on our machines) or through sudo.
set -euo pipefail
want=(python3-venv libsqlite3-mod-spatialite fonts-noto-cjk)
if [ "${1:-}" = "--test" ]; then
    want+=(postgresql-15 postgresql-15-postgis-3 chromium)
fi
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
