#!/usr/bin/env bash
# `npm test`: builds, makes sure PostgreSQL and Chromium are there, then runs the suite
# against Express 5 and the middleware tests again against Express 4.
# Set TEST_DATABASE_URL (and CHROMIUM_PATH) to use your own; otherwise the workplace
# scripts in ../shared/ci start a throwaway PostgreSQL on 127.0.0.1:55432 (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED_CI=${LIFELINE_SHARED_CI:-$(cd .. && pwd)/shared/ci}
export LIFELINE_SHARED_CI=$SHARED_CI

started_pg=
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if [ ! -f "$SHARED_CI/start-postgres.sh" ]; then
    echo "error: TEST_DATABASE_URL is not set and $SHARED_CI/start-postgres.sh is missing: point TEST_DATABASE_URL at a PostgreSQL database the tests may use" >&2
    exit 1
  fi
  eval "$(bash "$SHARED_CI/start-postgres.sh")"
  started_pg=1
fi
if [ -z "${CHROMIUM_PATH:-}" ]; then
  if command -v chromium >/dev/null 2>&1; then
    CHROMIUM_PATH=$(command -v chromium)
  elif [ -f "$SHARED_CI/install-chromium.sh" ]; then
    CHROMIUM_PATH=$(bash "$SHARED_CI/install-chromium.sh")
  fi
fi
export CHROMIUM_PATH TEST_DATABASE_URL
[ -n "$started_pg" ] && trap 'bash "$SHARED_CI/stop-postgres.sh"' EXIT

npm run build
results=$(mktemp -d)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results/express5.json" || status=$?
LIFELINE_TEST_EXPRESS=4 npx vitest run test/middleware test/lifeline.test.ts \
  --reporter=default --reporter=json --outputFile.json="$results/express4.json" || status=$?
# One closing line over both runs, in the plain form CI reads.
node -e '
  let passed = 0, failed = 0, skipped = 0;
  for (const file of process.argv.slice(1)) {
    try {
      const r = JSON.parse(require("node:fs").readFileSync(file, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
    } catch { failed += 1; }
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results/express5.json" "$results/express4.json"
rm -rf "$results"
exit "$status"
