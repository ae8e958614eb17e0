#!/usr/bin/env bash
# Installs the pinned oidc-provider (npm) into ~/.cache for the single sign-on suite and prints
# its node_modules folder. Fails when node or npm is missing: the suite needs both.
set -euo pipefail
VERSION=9.13.3
DIR="$HOME/.cache/portal-oidc/$VERSION"
command -v node >/dev/null || { echo "node is missing (Node 20 or later)" >&2; exit 1; }
if [ ! -f "$DIR/node_modules/oidc-provider/package.json" ]; then
  command -v npm >/dev/null || { echo "npm is missing" >&2; exit 1; }
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || echo '{"private": true}' > "$DIR/package.json"
  npm install --prefix "$DIR" --no-audit --no-fund --silent "oidc-provider@$VERSION" >&2
fi
echo "$DIR/node_modules"
