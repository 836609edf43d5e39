#!/usr/bin/env bash
# Everything CI needs for the VS Code extension: npm ci, type check, build, unit tests,
# protocol tests against the real daemon, the .vsix, and the integration tests inside a
# real VS Code (code-server + chromium; installed on first use, outside the repository).
# Idempotent and quick when things are already installed. Last line: "N passed, N failed".
#   DSPEX_PYTHON=...     a Python with dspex installed (default: <repo>/.venv/bin/python)
#   DSPEX_SKIP_UI=1      skip the workbench tests (e.g. a machine without apt)
set -uo pipefail
EXT=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$EXT/.." && pwd)
cd "$EXT"
PASSED=0
FAILED=0
FAILURES=()
step() { echo; echo "== vscode-extension: $*"; }
ok() { PASSED=$((PASSED + ${2:-1})); }
bad() { FAILED=$((FAILED + ${2:-1})); FAILURES+=("$1"); }

# Counts from a TAP file written by node --test.
tap_count() { sed -n "s/^# $2 \([0-9]*\)$/\1/p" "$1" | tail -1; }
node_tests() { # name dir
  local tap="$EXT/out/$1.tap"
  rm -f "$tap"
  timeout "${3:-300}" node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "$2"
  local rc=$? p f
  p=$(tap_count "$tap" pass); f=$(tap_count "$tap" fail)
  p=${p:-0}; f=${f:-0}
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  ok "$1" "$p"; [ "$f" -gt 0 ] && bad "$1" "$f"
  return 0
}

step "npm ci"
LOCK_HASH=$(sha256sum package-lock.json | cut -c1-16)
if [ -f node_modules/.dspex-lock-hash ] && [ "$(cat node_modules/.dspex-lock-hash)" = "$LOCK_HASH" ]; then
  echo "node_modules up to date"
elif npm ci --no-audit --no-fund; then
  echo "$LOCK_HASH" > node_modules/.dspex-lock-hash
else
  bad "npm ci"; echo "$PASSED passed, $FAILED failed"; exit 1
fi

step "type check"
if node_modules/.bin/tsc --noEmit -p .; then ok typecheck; else bad typecheck; fi

step "build"
if node esbuild.mjs; then ok build; else bad build; echo "$PASSED passed, $FAILED failed"; exit 1; fi

step "unit tests"
node_tests unit out/test/unit/ 120

step "protocol tests (the real daemon from Node)"
PY=${DSPEX_PYTHON:-$REPO/.venv/bin/python}
if [ ! -x "$PY" ]; then
  echo "no $PY: creating the repository's venv"
  python3 -m venv "$REPO/.venv" && "$REPO/.venv/bin/pip" install -q -e "$REPO" || true
fi
if "$PY" -c "import dspex_server" 2>/dev/null; then
  DSPEX_PYTHON="$PY" node_tests protocol out/test/protocol/ 300
else
  echo "no Python with dspex_server at $PY"; bad "protocol (no daemon)"
fi

step "package the .vsix"
rm -f dist/dspex.vsix
LISTING=""
node_modules/.bin/vsce package --no-dependencies --out dist/dspex.vsix </dev/null \
  && LISTING=$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' dist/dspex.vsix)
if [[ "$LISTING" == *extension/dist/extension.js* ]] && ! grep -qE "node_modules/|/src/|\.map$" <<<"$LISTING"; then
  ls -l dist/dspex.vsix; ok vsix
else
  bad vsix
fi

if [ "${DSPEX_SKIP_UI:-0}" = 1 ]; then
  echo "UI tests skipped (DSPEX_SKIP_UI=1)"
else
  step "integration tests inside code-server"
  rm -f .ui-summary.json
  DSPEX_PYTHON="$PY" timeout "${UI_TOTAL_TIMEOUT_S:-900}" bash test/ui/run.sh
  rc=$?
  p=$(sed -n 's/.*"passed":\([0-9]*\).*/\1/p' .ui-summary.json 2>/dev/null); f=$(sed -n 's/.*"failed":\([0-9]*\).*/\1/p' .ui-summary.json 2>/dev/null)
  p=${p:-0}; f=${f:-0}
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  ok ui "$p"; [ "$f" -gt 0 ] && bad ui "$f"
fi

echo
[ ${#FAILURES[@]} -gt 0 ] && echo "vscode-extension failures in: ${FAILURES[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
