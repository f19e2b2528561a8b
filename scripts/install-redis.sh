#!/usr/bin/env bash
# Prints the path of a redis-server the live-update tests can start (test/helpers/redis.ts), installing one if needed:
#   1. $REDIS_SERVER_PATH, if set (must be an executable file);
#   2. redis-server on the PATH;
#   3. else, as root on a machine with apt-get (Debian, Ubuntu): apt-get install redis-server.
# Otherwise prints one line saying how to get one and exits 1. Progress goes to stderr.
set -euo pipefail

if [ -n "${REDIS_SERVER_PATH:-}" ]; then
  if [ -x "$REDIS_SERVER_PATH" ] && [ -f "$REDIS_SERVER_PATH" ]; then
    echo "$REDIS_SERVER_PATH"
    exit 0
  fi
  echo "error: REDIS_SERVER_PATH=$REDIS_SERVER_PATH is not an executable file" >&2
  exit 1
fi

if command -v redis-server >/dev/null 2>&1; then
  command -v redis-server
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing redis-server with apt-get (for the live-update tests)..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2
  # The package starts a system service; the tests start their own servers and need none.
  (command -v service >/dev/null 2>&1 && service redis-server stop >/dev/null 2>&1) || true
  if command -v redis-server >/dev/null 2>&1; then
    command -v redis-server
    exit 0
  fi
fi

echo "error: no redis-server found: set REDIS_SERVER_PATH to a redis-server executable, put redis-server on the PATH, or run \`bash scripts/install-redis.sh\` as root on Debian/Ubuntu" >&2
exit 1
