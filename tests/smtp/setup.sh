#!/usr/bin/env bash
# Installs the SMTP sink's one dependency (aiosmtpd, pinned) in a virtualenv under ~/.cache
# and prints the virtualenv's python. The e-mail suite runs `tests/smtp/sink.py` with it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${SMTP_VENV:-$HOME/.cache/onboarding-portal/smtp-venv}"
if ! "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q -r "$HERE/requirements.txt" >&2
fi
echo "$VENV/bin/python"
