#!/usr/bin/env bash
# `make bench`: the benchmark table against the physical floors
# (internal/bench TestBench: it builds the bootstraps, sdesk serve and the
# hello-world floor, prints one table and writes it as JSON under
# BENCH_OUT), then every Benchmark* function of the module. Run it under
# scripts/with-dynamodb.sh so that the DynamoDB rows and benchmarks run.
set -euo pipefail
GO=${GO:-go}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$root/bench/results}
case $out in /*) ;; *) out=$root/$out ;; esac
cd "$root"
start=$(date +%s)
"$GO" test ./internal/bench -run '^TestBench$' -count=1 -v -timeout 30m -args -bench.out="$out" ${BENCH_ARGS:-} \
  | grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS$' -e '^ok '
echo
echo "Benchmark* functions (go test -bench):"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$GO" test -run '^$' -bench . -benchmem -count=1 ./... >"$log" 2>&1 || status=$?
grep -e '^Benchmark' -e '^FAIL' -e '^--- ' -e 'panic:' -e '_test.go:' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "go test -bench failed (status $status):"
  tail -n 40 "$log"
  exit "$status"
fi
echo
echo "make bench took $(( $(date +%s) - start )) s"
