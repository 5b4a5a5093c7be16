#!/usr/bin/env bash
# Install what tests/e2e/test_vscode.py needs, outside the repository:
# Debian's chromium and libkrb5-dev, and from the npm registry Node.js 24 (package node@24: code-server
# refuses Node 20), playwright-core and code-server, into $DEVASSIST_VSCODE_E2E_HOME
# (default ~/.cache/devassist-vscode-e2e). Idempotent: a second run only checks.
set -euo pipefail
HOME_DIR="${DEVASSIST_VSCODE_E2E_HOME:-$HOME/.cache/devassist-vscode-e2e}"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
PLAYWRIGHT_VERSION="${PLAYWRIGHT_VERSION:-1.65.1}"
NODE_VERSION="${NODE_VERSION:-24}"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p "$HOME_DIR"
cd "$HOME_DIR"
[[ -f package.json ]] || echo '{"private": true}' > package.json
if [[ ! -x node_modules/node/bin/node || ! -d node_modules/playwright-core ]]; then
  npm install --no-audit --no-fund --loglevel=error "node@$NODE_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"
fi
if [[ ! -x node_modules/.bin/code-server ]]; then
  # code-server's install script builds native modules: it must run under Node 24, as root.
  PATH="$HOME_DIR/node_modules/node/bin:$PATH" npm install --no-audit --no-fund --loglevel=error \
    --unsafe-perm "code-server@$CODE_SERVER_VERSION"
fi
mkdir -p "$HOME_DIR/home"  # code-server writes a config file under HOME on any run
HOME="$HOME_DIR/home" PATH="$HOME_DIR/node_modules/node/bin:$PATH" node_modules/.bin/code-server --version | head -1
