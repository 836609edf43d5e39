#!/usr/bin/env bash
# The extension's integration tests inside a real VS Code workbench: code-server (bound to
# 127.0.0.1) in headless Debian chromium, driven by playwright-core; the suite runs in the
# real extension host against the real daemon on the mock provider. Bounded in time.
# Screenshots go to docs/images/. Exit 0 when every UI test passed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
EXT=$(cd "$HERE/../.." && pwd)
REPO=$(cd "$EXT/.." && pwd)
. "$HERE/tools.sh"
ensure_ui_tools
PY=${DSPEX_PYTHON:-$REPO/.venv/bin/python}
[ -x "$PY" ] || { echo "ui: no Python with dspex at $PY (set DSPEX_PYTHON)"; exit 1; }
[ -f "$EXT/dist/extension.js" ] && [ -f "$EXT/out/test/ui/suite.js" ] || (cd "$EXT" && node esbuild.mjs)

RUN=$(mktemp -d /tmp/dspex-ui.XXXXXX)
WS="$RUN/workspace"
mkdir -p "$WS/.vscode" "$WS/.ui"
cat > "$WS/.vscode/settings.json" <<JSON
{
  "dspex.daemon.pythonPath": "$PY",
  "dspex.provider": "mock",
  "dspex.providerSettings": { "mock": { "chunkSize": 4 } },
  "workbench.startupEditor": "none"
}
JSON
mkdir -p "$RUN/ud/User"
cat > "$RUN/ud/User/settings.json" <<JSON
{
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "chat.disableAIFeatures": true
}
JSON
printf 'def add(a, b):\n    return a + b\n' > "$WS/sample.py"
PORT=${PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}

# A daemon environment with no real provider keys and no user config file.
unset_args=()
for v in $(compgen -e | grep -E '^(OPENAI|ANTHROPIC|GEMINI|GOOGLE|GROQ|MISTRAL|PERPLEXITY|OPENROUTER|XAI|OLLAMA|LMSTUDIO|AWS|BEDROCK|DSPEX)_' || true); do unset_args+=(-u "$v"); done
: > "$RUN/dspex-config.toml"  # empty: a DSPEX_CONFIG naming a missing file is an error
# The daemon's data (sessions, keys) go to this run's folder, not the user's.
env "${unset_args[@]}" DSPEX_CONFIG="$RUN/dspex-config.toml" XDG_DATA_HOME="$RUN/data" XDG_CONFIG_HOME="$RUN/config" \
  setsid "$TOOLS/node_modules/.bin/code-server" --config "$RUN/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" --vscode-option enable-smoke-test-driver \
  >"$RUN/server.log" 2>&1 </dev/null &
PGID=$!
cleanup() { kill -- -"$PGID" 2>/dev/null || true; }  # the whole process group (file watchers too)
trap cleanup EXIT
healthy() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$PORT/healthz" 2>/dev/null; }
for _ in $(seq 90); do healthy && break; sleep 1; done
healthy || { echo "ui: code-server did not start"; tail -20 "$RUN/server.log"; exit 1; }

SHOTS=${SHOTS:-$REPO/docs/images}
set +e
NODE_PATH="$TOOLS/node_modules" FINAL_SHOT="$RUN/final.png" timeout "${UI_TEST_TIMEOUT_S:-480}" \
  node "$HERE/runner.js" "http://127.0.0.1:$PORT" "$EXT" "$EXT/out/test/ui/suite.js" "$WS" "$SHOTS"
rc=$?
set -e
[ -f "$WS/.ui/summary.json" ] && cp "$WS/.ui/summary.json" "$EXT/.ui-summary.json" || echo '{"passed":0,"failed":1}' > "$EXT/.ui-summary.json"
[ $rc -eq 0 ] || { echo "ui: failed (rc=$rc); code-server log tail:"; tail -15 "$RUN/server.log"; echo "final screenshot: $RUN/final.png"; }
[ $rc -ne 0 ] || { cleanup; sleep 1; rm -rf "$RUN"; }
exit $rc
