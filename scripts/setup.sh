#!/usr/bin/env bash
# Create .venv (if missing) and install the pinned dependency tree (requirements.lock) into it.
# Idempotent and quick when nothing changed: pip runs only when the lock file changed.
# PYTHON=/path/to/python3.11 picks the interpreter (default: python3.11, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

py="${PYTHON:-}"
if [ -z "$py" ]; then
  for c in python3.11 python3.12 python3; do
    if command -v "$c" >/dev/null 2>&1; then py="$c"; break; fi
  done
fi
[ -n "$py" ] || { echo "setup: no python3 found (need Python 3.11 or 3.12)" >&2; exit 1; }
"$py" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' \
  || { echo "setup: $py is $("$py" -V 2>&1); need Python 3.11 or 3.12" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$py" -V 2>&1)"
  "$py" -m venv .venv || {
    echo "setup: '$py -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
fi

stamp=.venv/.requirements.lock.sha256
want=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing pinned dependencies (requirements.lock) ..."
  .venv/bin/python -m pip install --disable-pip-version-check --no-input -q -r requirements.lock
  echo "$want" > "$stamp"
fi
# legacy Word .doc files are read with antiword (Debian package); without it they are quarantined
# with a reason. Installed here when apt-get can (root), else the hint is printed.
if ! command -v antiword >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing antiword (apt) to read legacy .doc files"
    (apt-get install -y -qq antiword >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq antiword >/dev/null; }) \
      || echo "setup: could not install antiword; .doc files will be quarantined" >&2
  else
    echo "setup: antiword is not installed: .doc files will be quarantined (sudo apt-get install antiword)" >&2
  fi
fi
echo "setup: .venv ready ($(.venv/bin/python -V))"
