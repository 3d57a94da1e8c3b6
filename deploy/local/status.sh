#!/usr/bin/env bash
# Show the state of the local hcstream stack. Exit 0 if both components run, 3 otherwise.
set -euo pipefail

# shellcheck source=deploy/local/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"

rc=0
"$HC_LOCAL_SCRIPT_DIR/clickhouse.sh" status || rc=3
"$HC_LOCAL_SCRIPT_DIR/kafka.sh" status || rc=3
if ((rc == 0)); then
  echo "HC_TEST_KAFKA=$HC_TEST_KAFKA"
  echo "HC_TEST_CLICKHOUSE=$HC_TEST_CLICKHOUSE"
fi
exit "$rc"
