#!/usr/bin/env bash
# Install the system libraries onetrench needs, with apt, where they are missing.
#   mod_spatialite        SpatiaLite, the embedded spatial database (required)
#   fontconfig            fc-list, used to find the font below
#   fonts-noto-cjk        Chinese font embedded in the permit PDF and the static maps (required)
#   poppler-utils         pdftotext / pdftoppm, used by the tests on the permit PDF
#   chromium              headless browser for the map tests
#   postgresql-*-postgis-3  only with --postgis, for the PostGIS tests (scripts/setup-postgis.sh)
# Idempotent: does nothing when everything is present. Needs root or sudo to install.
set -euo pipefail

want=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1" || ls /usr/lib/*/"$1"* >/dev/null 2>&1; }
have_lib mod_spatialite || want+=(libsqlite3-mod-spatialite)
command -v fc-list >/dev/null || want+=(fontconfig)   # fc-list finds the CJK font for PDF and maps
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || want+=(fonts-noto-cjk)
command -v pdftotext >/dev/null || want+=(poppler-utils)
if [[ "${ONETRENCH_SKIP_BROWSER:-0}" != "1" ]]; then
  [[ -x /usr/bin/chromium ]] || want+=(chromium)
fi

if [[ ${#want[@]} -eq 0 ]]; then
  exit 0
fi

echo "安装系统依赖 / installing system packages: ${want[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "需要 root 权限安装 / need root to install: apt-get install ${want[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fc-cache -f >/dev/null 2>&1 || true
