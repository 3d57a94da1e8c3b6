#!/usr/bin/env bash
# Stop the local hcstream stack (Kafka, then ClickHouse), and the three-node cluster of the
# cluster fault test if a test left it running. Data is kept in $HC_LOCAL_DIR.
set -euo pipefail

# shellcheck source=deploy/local/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"

rc=0
"$HC_LOCAL_SCRIPT_DIR/kafka-cluster.sh" down || rc=1
"$HC_LOCAL_SCRIPT_DIR/kafka.sh" down || rc=1
"$HC_LOCAL_SCRIPT_DIR/clickhouse.sh" down || rc=1
exit "$rc"
