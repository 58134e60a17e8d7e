#!/usr/bin/env bash
# Runs a command with DynamoDB Local: uses $DYNAMODB_ENDPOINT when set,
# otherwise fetches (once) and starts DynamoDB Local on a free loopback port
# and stops it afterwards. Tests that need DynamoDB fail instead of skipping.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
  export SDESK_DDB_STATE
  SDESK_DDB_STATE=$(mktemp -d "${TMPDIR:-/tmp}/sdesk-ddb.XXXXXX")
  trap '"$here/dynamodb-local.sh" stop >/dev/null 2>&1 || true; rm -rf "$SDESK_DDB_STATE"' EXIT
  # A free port of its own, never DYNAMODB_PORT (`make local`'s instance).
  DYNAMODB_ENDPOINT=$(DYNAMODB_PORT= "$here/dynamodb-local.sh" start)
  export DYNAMODB_ENDPOINT
fi
echo "DynamoDB endpoint: $DYNAMODB_ENDPOINT" >&2
export SDESK_REQUIRE_DYNAMODB=1
"$@"
