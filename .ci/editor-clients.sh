#!/usr/bin/env bash
# Editor clients: build, lint, unit-test and package the VS Code extension, then run the
# headless Neovim end-to-end test against the real server. Called by .ci/run.
#   bash .ci/editor-clients.sh            # ~2 min here: npm ci + tests + package ~35 s, Neovim test ~90 s (most of it the tiny bundle)
#   DEVASSIST_VSCODE_E2E=1 bash .ci/editor-clients.sh   # also the code-server + Playwright test
# Uses $PYTHON (default: python) for pytest; it must have devassist and its dev extra installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

need_apt=()
command -v nvim >/dev/null || need_apt+=(neovim)
if [[ "${DEVASSIST_VSCODE_E2E:-0}" == 1 ]]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
fi
if ((${#need_apt[@]})); then
  echo "== apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

node_major="$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)"
if [[ -z "$node_major" || "$node_major" -lt 20 ]]; then
  echo "editor-clients: Node.js 20 or newer is needed to build the VS Code extension (found: ${node_major:-none})" >&2
  exit 1
fi

echo "== VS Code extension: npm ci, lint + typecheck + unit tests, package"
(
  cd editor-client/vscode
  npm ci --no-audit --no-fund --loglevel=error
  npm test
  npm run package
  ls -l devassist.vsix
)

# The Neovim end-to-end test (tests/e2e/test_neovim.py) runs with the rest of the suite in
# README's test command; run it alone with: python -m pytest tests/e2e/test_neovim.py

if [[ "${DEVASSIST_VSCODE_E2E:-0}" == 1 ]]; then
  echo "== VS Code end-to-end test (code-server + Playwright)"
  bash editor-client/vscode/e2e/install.sh
  "$PYTHON" -m pytest tests/e2e/test_vscode.py -q -p no:cacheprovider
fi
