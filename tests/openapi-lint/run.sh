#!/usr/bin/env bash
# Lints docs/openapi.json with Redocly CLI and the committed ruleset (redocly.yaml): any error
# fails. The pinned CLI (package.json) is installed once into a cache directory, like the
# schemathesis virtualenv; a changed package.json reinstalls it.
#
#   tests/openapi-lint/run.sh                    # lint docs/openapi.json
#   tests/openapi-lint/run.sh path/to/other.json # lint another document with the same rules
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=tests/openapi-lint

CACHE="${OPENAPI_LINT_CACHE:-$HOME/.cache/onboarding-portal/openapi-lint}"
if [[ ! -x "$CACHE/node_modules/.bin/redocly" ]] || ! cmp -s "$HERE/package.json" "$CACHE/package.json"; then
  mkdir -p "$CACHE"
  cp "$HERE/package.json" "$CACHE/package.json"
  rm -f "$CACHE/package-lock.json"
  npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error >/dev/null
fi

# No telemetry, no update check: CI runs offline after the first install.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
"$CACHE/node_modules/.bin/redocly" lint --config "$HERE/redocly.yaml" --format=stylish "${1:-docs/openapi.json}"
