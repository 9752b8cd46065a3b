#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages capplan needs that pip cannot provide.
# Usage: scripts/system-deps.sh runtime|test
# As root it runs apt-get; otherwise it prints the exact command and fails, so
# a missing library is reported up front instead of as an import error later.
set -euo pipefail
profile=${1:-runtime}

missing=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }

python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
have_lib 'libpango-1.0.so.0' || missing+=(libpango-1.0-0)
have_lib 'libpangoft2-1.0.so.0' || missing+=(libpangoft2-1.0-0)
have_lib 'libharfbuzz-subset.so.0' || missing+=(libharfbuzz-subset0)
fc-list 2>/dev/null | grep -qi 'DejaVuSans' || missing+=(fonts-dejavu-core fontconfig)

if [ "$profile" = test ]; then
  have_cmd pdftotext && have_cmd pdfinfo && have_cmd pdftoppm || missing+=(poppler-utils)
  have_cmd prometheus && have_cmd promtool || missing+=(prometheus)
  have_cmd prometheus-pushgateway || missing+=(prometheus-pushgateway)
  have_cmd openssl || missing+=(openssl)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  $cmd
else
  echo "capplan needs these system packages: ${missing[*]}" >&2
  echo "Run: sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
