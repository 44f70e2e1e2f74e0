#!/usr/bin/env bash
# The one list of Debian packages the test suite needs from the system; everything else
# comes from the hash-pinned Python locks or with the repo (the corpus fonts).
#   chromium            the browser tests (Playwright drives Debian's build, never its own)
#   fonts-wqy-microhei  a CJK font, or the Chinese pages' screenshots show empty boxes
#   libatomic1          Playwright's bundled node driver links to it; a minimal Debian
#                       root lacks it (make fresh-check found it), chromium does not pull it
#   haproxy             the load balancer with TLS in front of the fault suite's web hosts
#                       (make chaos), configured from docs/deploy/haproxy.cfg
#   faketime            libfaketime: make chaos runs one web host with its clock ahead
#   postgresql          initdb/pg_ctl of the fault suite's own server in its namespace
#                       (never the machine's), and the server CI tests on
#
# `make test` runs this with --if-possible: it installs what is missing when it may (root,
# or sudo without a password) and otherwise says what is missing and carries on; the test
# run then stops with one line if the browser tests cannot run. `make system-packages`
# (and .ci/run) run it plainly, and it fails when it cannot install.
set -euo pipefail

# rsyslog: tests/test_siem_rsyslog.py ships the audit stream with it (imfile -> omfile).
PACKAGES=(chromium fonts-wqy-microhei libatomic1 haproxy faketime postgresql rsyslog)

# --bench (make bench) adds what the peers of the OCR figures need, not the tests:
#   tesseract-ocr       the `tesseract` CLI, figure 11's floor and the engine OCRmyPDF runs
#   ghostscript         OCRmyPDF's PDF/A output (its default) in the figures beside it
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(tesseract-ocr tesseract-ocr-eng ghostscript)
fi

# --check: only say which are missing (one per line; exit 1 if any), install nothing.
if_possible=0
[ "${1:-}" = "--if-possible" ] && if_possible=1
check_only=0
[ "${1:-}" = "--check" ] && check_only=1
# Without dpkg there is nothing to ask; the tests then look for what they need themselves.
command -v dpkg-query >/dev/null || exit 0

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$check_only" = 1 ]; then
  printf '%s\n' "${missing[@]}"
  exit 1
fi

give_up() {
  echo "System packages missing: ${missing[*]}; $1." >&2
  [ "$if_possible" = 1 ] && exit 0
  exit 1
}

command -v apt-get >/dev/null || give_up "no apt-get here: install them with this system's package manager"
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  give_up "run 'sudo make system-packages' (this user may not install packages)"
fi

echo "Installing the system packages the tests need: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
