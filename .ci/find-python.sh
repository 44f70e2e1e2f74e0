#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter, or explain what is missing.
# With an argument ("3.12"), print an interpreter of exactly that minor version.
# pyenv shims answer only for a selected version, so installed pyenv versions are
# looked up directly as well.
set -u
want=${1:-}
ok() {
  if [ -n "$want" ]; then
    "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" >/dev/null 2>&1
  else
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
  fi
}
candidates=()
for name in python3.13 python3.12 python3; do
  path=$(command -v "$name" 2>/dev/null) && candidates+=("$path")
done
for root in "${PYENV_ROOT:-$HOME/.pyenv}/versions" /usr/local/bin /usr/bin; do
  for path in "$root"/3.13*/bin/python3 "$root"/3.12*/bin/python3 "$root"/python3.13 "$root"/python3.12; do
    [ -x "$path" ] && candidates+=("$path")
  done
done
for path in "${candidates[@]}"; do
  if ok "$path"; then echo "$path"; exit 0; fi
done
[ -n "$want" ] && { echo "error: no Python $want found" >&2; exit 1; }
echo "error: Python 3.12 or newer is required (looked for python3.13, python3.12, python3 and pyenv versions)." >&2
echo "Install one, e.g. 'apt install python3.12' or 'pyenv install 3.12', then run make again." >&2
exit 1
