#!/usr/bin/env bash
# A local three-node Kafka cluster (KRaft, every node broker and controller) on 127.0.0.1,
# for the cluster fault test and for trying replication by hand. It runs beside the
# single-node broker of `make run`, on its own ports, with the same jars (kafka.sh).
#
#   deploy/local/kafka-cluster.sh {up|down|status|brokers}
#   deploy/local/kafka-cluster.sh node N {up|down|stop-hard|status}
#
# up        start the nodes that are not running and wait until every node answers
# down      stop every node (SIGTERM, then SIGKILL after 30 s); data is kept
# brokers   print the bootstrap list, e.g. 127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094
# node N    act on node N alone (1-3), e.g. `node 2 stop-hard` to crash it
#
# Topics are created with replication factor 3 by default and min.insync.replicas=2, so a
# write acknowledged with acks=all survives the loss of any one node.
#
# Settings (defaults in brackets): HC_LOCAL_KAFKA_CLUSTER_PORT, node N's broker port is this
# plus N-1 and its controller port this plus 100+N-1 [19092]; HC_LOCAL_KAFKA_CLUSTER_HEAP,
# each node's heap [384m]. Data and logs: $HC_LOCAL_DIR/kafka-cluster/node-N.
set -euo pipefail

# shellcheck source=deploy/local/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"

CLUSTER_NODES=3
CLUSTER_PORT=${HC_LOCAL_KAFKA_CLUSTER_PORT:-19092}
CLUSTER_HEAP=${HC_LOCAL_KAFKA_CLUSTER_HEAP:-384m}
CLUSTER_HOME=$HC_LOCAL_DIR/kafka-cluster
[[ $CLUSTER_PORT =~ ^[0-9]+$ ]] || hc_die "HC_LOCAL_KAFKA_CLUSTER_PORT must be a number, got '$CLUSTER_PORT'"

broker_port() { echo $((CLUSTER_PORT + $1 - 1)); }
controller_port() { echo $((CLUSTER_PORT + 100 + $1 - 1)); }

# addresses broker|voter: every node's broker address, or its controller in the voter form
# N@host:port, comma-separated.
addresses() {
  local n list=()
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    if [[ $1 == voter ]]; then
      list+=("$n@$HC_LOCAL_HOST:$(controller_port "$n")")
    else
      list+=("$HC_LOCAL_HOST:$(broker_port "$n")")
    fi
  done
  local IFS=,
  echo "${list[*]}"
}

# node N ACTION: run kafka.sh ACTION as node N of the cluster.
node() {
  local n=$1 action=$2
  [[ $n =~ ^[1-9]$ ]] && ((n <= CLUSTER_NODES)) || hc_die "kafka cluster: no node '$n' (1-$CLUSTER_NODES)"
  mkdir -p "$CLUSTER_HOME"
  HC_LOCAL_KAFKA_HOME=$CLUSTER_HOME/node-$n \
    HC_LOCAL_KAFKA_NAME="kafka node $n" \
    HC_LOCAL_KAFKA_NODE_ID=$n \
    HC_LOCAL_KAFKA_VOTERS=$(addresses voter) \
    HC_LOCAL_KAFKA_REPLICATION=$CLUSTER_NODES \
    HC_LOCAL_KAFKA_CLUSTER_ID_FILE=$CLUSTER_HOME/cluster-id \
    HC_LOCAL_KAFKA_PORT=$(broker_port "$n") \
    HC_LOCAL_KAFKA_CONTROLLER_PORT=$(controller_port "$n") \
    HC_LOCAL_KAFKA_HEAP=$CLUSTER_HEAP \
    bash "$HC_LOCAL_SCRIPT_DIR/kafka.sh" "$action"
}

# every ACTION: run kafka.sh ACTION on every node at once; fails if any node failed.
every() {
  local action=$1 n pids=() rc=0
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    node "$n" "$action" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do
    wait "$n" || rc=1
  done
  return "$rc"
}

cmd_up() {
  local n start
  start=$(hc_now)
  # One at a time: the first node to start writes the cluster id the others format with.
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    node "$n" start
  done
  # No node answers before a majority of controllers runs, so the waits come after all starts.
  every wait || hc_die "kafka cluster: not every node became ready"
  hc_log "kafka cluster: $CLUSTER_NODES nodes ready on $(addresses broker) ($(($(hc_now) - start))s)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) every down ;;
  status) every status ;;
  brokers) addresses broker ;;
  node)
    [[ $# -eq 3 ]] || hc_die "usage: kafka-cluster.sh node N {up|down|stop-hard|status}"
    node "$2" "$3"
    ;;
  *)
    sed -n '5,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
