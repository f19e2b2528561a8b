#!/usr/bin/env bash
# Prints the path of a Chromium the page test can drive (playwright-core), installing one if needed:
#   1. $CHROMIUM_PATH, if set (must be an executable file);
#   2. chromium, chromium-browser, google-chrome or google-chrome-stable on the PATH;
#   3. else, as root on a machine with apt-get (Debian, Ubuntu): apt-get install chromium.
# Otherwise prints one line saying how to get one and exits 1. Progress goes to stderr.
set -euo pipefail

if [ -n "${CHROMIUM_PATH:-}" ]; then
  if [ -x "$CHROMIUM_PATH" ] && [ -f "$CHROMIUM_PATH" ]; then
    echo "$CHROMIUM_PATH"
    exit 0
  fi
  echo "error: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file" >&2
  exit 1
fi

find_chromium() {
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if find_chromium; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium with apt-get (for the page test)..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  if find_chromium; then exit 0; fi
fi

echo "error: no Chromium found: set CHROMIUM_PATH to a Chromium or Chrome executable, put chromium on the PATH, or run \`bash scripts/install-chromium.sh\` as root on Debian/Ubuntu" >&2
exit 1
