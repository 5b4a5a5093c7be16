#!/usr/bin/env bash
# Copy the walkthrough's screenshots (editor-client/README.md) from the last code-server run of
# tests/e2e/test_vscode.py (artifacts/editor-clients/) into editor-client/screenshots/, as
# 32-colour PNGs (pngquant; Debian: apt-get install pngquant) so the folder stays small.
#   pytest tests/e2e/test_vscode.py && bash editor-client/vscode/e2e/walkthrough_screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
from=artifacts/editor-clients
to=editor-client/screenshots
command -v pngquant >/dev/null || { echo "pngquant is needed: apt-get install pngquant" >&2; exit 1; }
# walkthrough name <- artifact of the test that took it
shots=(
  ready.png=vscode-docstring/ready.png
  typing-ghost-text.png=vscode-typing/typing-ghost-text.png
  typing-accepted.png=vscode-typing/typing-accepted.png
  docstring.png=vscode-docstring/docstring.png
  review-quick-fix.png=vscode-review/review-quick-fix.png
  review-fixed.png=vscode-review/review-fixed.png
  output-channel.png=vscode-review/output-channel.png
  synth-done.png=vscode-synth/synth-done.png
)
mkdir -p "$to"
for pair in "${shots[@]}"; do
  name="${pair%%=*}" src="$from/${pair#*=}"
  [[ -f "$src" ]] || { echo "missing $src: run pytest tests/e2e/test_vscode.py first" >&2; exit 1; }
  pngquant --force --speed 1 32 --output "$to/$name" "$src"
done
du -ch "$to"/*.png | tail -1
