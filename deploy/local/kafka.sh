#!/usr/bin/env bash
# Local Apache Kafka 4.1.1 node (KRaft combined broker+controller) on 127.0.0.1: the
# single-node broker of `make run` and the tests, and each node of kafka-cluster.sh.
#
#   deploy/local/kafka.sh {up|down|status|restart|stop-hard|start|wait}
#       start   spawn the broker without waiting (a cluster node cannot answer until a
#               quorum of its peers runs too); wait  wait until it answers metadata
#   deploy/local/kafka.sh tool CLASS [ARGS...]   run a Kafka CLI class from the same jars, e.g.
#       deploy/local/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
#
# Jars come from Maven Central via deploy/local/kafka/pom.xml (mvn runs only when the libs dir
# is missing or the pom changed). Everything else lives in the node's home, $HC_LOCAL_DIR/kafka
# for the single node:
#   libs/ libs.sha256        resolved jars and the pom checksum they were resolved from
#   config/                  server.properties, log4j2.properties (broker), tools-log4j2.properties
#   data/                    KRaft metadata + topic data (log.dirs); formatted once
#   logs/                    server.log, controller.log, state-change.log, log-cleaner.log, kafka.out
#   cluster-id, kafka.pid
# The jars are shared by every node; kafka-cluster.sh sets, per node (defaults: the single node):
#   HC_LOCAL_KAFKA_HOME              this node's directory               [$HC_LOCAL_DIR/kafka]
#   HC_LOCAL_KAFKA_NODE_ID           node.id                             [1]
#   HC_LOCAL_KAFKA_VOTERS            controller.quorum.voters            [1@127.0.0.1:<controller port>]
#   HC_LOCAL_KAFKA_REPLICATION       replication of new and internal topics; min.insync.replicas
#                                    is one less (at least 1)            [1]
#   HC_LOCAL_KAFKA_CLUSTER_ID_FILE   the cluster id every node formats with [<home>/cluster-id]
#   HC_LOCAL_KAFKA_NAME              name in log lines                   [kafka]
set -euo pipefail

# shellcheck source=deploy/local/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"

KAFKA_VERSION=4.1.1
KAFKA_POM=$HC_LOCAL_SCRIPT_DIR/kafka/pom.xml
KAFKA_LIBS_DIR=$HC_LOCAL_DIR/kafka
KAFKA_LIBS=$KAFKA_LIBS_DIR/libs
KAFKA_LIBS_SUM=$KAFKA_LIBS_DIR/libs.sha256
KAFKA_HOME=${HC_LOCAL_KAFKA_HOME:-$HC_LOCAL_DIR/kafka}
KAFKA_NODE_ID=${HC_LOCAL_KAFKA_NODE_ID:-1}
KAFKA_VOTERS=${HC_LOCAL_KAFKA_VOTERS:-$KAFKA_NODE_ID@$HC_LOCAL_HOST:$HC_LOCAL_KAFKA_CONTROLLER_PORT}
KAFKA_REPLICATION=${HC_LOCAL_KAFKA_REPLICATION:-1}
KAFKA_NAME=${HC_LOCAL_KAFKA_NAME:-kafka}
[[ $KAFKA_NODE_ID =~ ^[0-9]+$ && $KAFKA_REPLICATION =~ ^[1-9][0-9]*$ ]] ||
  hc_die "$KAFKA_NAME: HC_LOCAL_KAFKA_NODE_ID and HC_LOCAL_KAFKA_REPLICATION must be numbers"
KAFKA_MIN_INSYNC=$((KAFKA_REPLICATION > 1 ? KAFKA_REPLICATION - 1 : 1))
KAFKA_CONF_DIR=$KAFKA_HOME/config
KAFKA_CONF=$KAFKA_CONF_DIR/server.properties
KAFKA_LOG4J=$KAFKA_CONF_DIR/log4j2.properties
KAFKA_TOOLS_LOG4J=$KAFKA_CONF_DIR/tools-log4j2.properties
KAFKA_DATA=$KAFKA_HOME/data
KAFKA_LOGS=$KAFKA_HOME/logs
KAFKA_OUT=$KAFKA_LOGS/kafka.out
KAFKA_PID=$KAFKA_HOME/kafka.pid
KAFKA_CLUSTER_ID_FILE=${HC_LOCAL_KAFKA_CLUSTER_ID_FILE:-$KAFKA_HOME/cluster-id}
KAFKA_BOOTSTRAP=$HC_LOCAL_HOST:$HC_LOCAL_KAFKA_PORT
# Our broker's command line contains the absolute path of its server.properties.
KAFKA_MARKER=$KAFKA_CONF

ensure_java() {
  if ! command -v java >/dev/null 2>&1; then
    hc_log "$KAFKA_NAME: java not found, installing openjdk-17-jre-headless"
    hc_apt_install openjdk-17-jre-headless
  fi
  local version major
  version=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  if [[ $version == 1.* ]]; then
    major=$(cut -d. -f2 <<<"$version")
  else
    major=${version%%[.+-]*}
  fi
  if ! [[ $major =~ ^[0-9]+$ ]] || ((major < 17)); then
    hc_die "$KAFKA_NAME: Kafka $KAFKA_VERSION needs Java 17 or newer, but \`java\` on PATH is '${version:-unknown}' ($(command -v java)). Install openjdk-17-jre-headless or put a Java 17+ first on PATH."
  fi
}

ensure_libs() {
  local want have=""
  want=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
  [[ -s $KAFKA_LIBS_SUM ]] && have=$(<"$KAFKA_LIBS_SUM")
  if [[ -d $KAFKA_LIBS && $have == "$want" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    hc_log "$KAFKA_NAME: mvn not found, installing maven"
    hc_apt_install maven
  fi
  hc_log "$KAFKA_NAME: resolving Kafka $KAFKA_VERSION jars from Maven Central (mvn dependency:copy-dependencies)"
  local tmp=$KAFKA_LIBS_DIR/libs.new start
  start=$(hc_now)
  rm -rf "$tmp"
  mkdir -p "$KAFKA_LIBS_DIR"
  # -f keeps mvn off the cwd; the pom has packaging=pom, so nothing is written next to it.
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" >"$KAFKA_LIBS_DIR/mvn.log" 2>&1; then
    tail -n 30 "$KAFKA_LIBS_DIR/mvn.log" >&2
    hc_die "$KAFKA_NAME: mvn dependency:copy-dependencies failed (full output in $KAFKA_LIBS_DIR/mvn.log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || hc_die "$KAFKA_NAME: mvn finished but no kafka_2.13 jar in $tmp"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  printf '%s\n' "$want" >"$KAFKA_LIBS_SUM"
  hc_log "$KAFKA_NAME: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS ($(($(hc_now) - start))s)"
}

write_configs() {
  mkdir -p "$KAFKA_CONF_DIR" "$KAFKA_DATA" "$KAFKA_LOGS"
  # Rewritten on every start so port overrides take effect. A static voter set
  # (controller.quorum.voters, kraft.version 0) keeps the quorum independent of anything
  # recorded at format time, so the controller port can change between runs.
  cat >"$KAFKA_CONF.tmp" <<EOF
# Generated by deploy/local/kafka.sh; edits are overwritten on the next start.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_VOTERS
listeners=PLAINTEXT://$HC_LOCAL_HOST:$HC_LOCAL_KAFKA_PORT,CONTROLLER://$HC_LOCAL_HOST:$HC_LOCAL_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HC_LOCAL_HOST:$HC_LOCAL_KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=12
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$KAFKA_MIN_INSYNC
offsets.topic.replication.factor=$KAFKA_REPLICATION
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_INSYNC
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$KAFKA_MIN_INSYNC
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
log.cleaner.enable=true
log.retention.hours=168
log.segment.bytes=1073741824
num.recovery.threads.per.data.dir=1
# After a SIGKILL the restarted broker can only re-register once the controller has fenced its
# previous incarnation, i.e. after broker.session.timeout.ms (default 9 s). Shorter values make
# kill/restart fault tests recover in ~4 s instead of ~13 s.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
EOF
  mv "$KAFKA_CONF.tmp" "$KAFKA_CONF"

  # Kafka 4.x logs through SLF4J -> log4j2 (log4j-slf4j-impl + log4j-core, see the pom). Without
  # -Dlog4j2.configurationFile log4j2 falls back to "errors only, to the console", so the broker
  # gets an explicit config that writes rolling files into the data dir and nothing to stdout.
  cat >"$KAFKA_LOG4J" <<EOF
# Generated by deploy/local/kafka.sh (broker logging, log4j2 properties format).
status = warn
name = hcstream-kafka-broker

appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = $KAFKA_LOGS/server.log
appender.server.filePattern = $KAFKA_LOGS/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 50MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3

appender.controller.type = RollingFile
appender.controller.name = controller
appender.controller.fileName = $KAFKA_LOGS/controller.log
appender.controller.filePattern = $KAFKA_LOGS/controller.log.%i
appender.controller.layout.type = PatternLayout
appender.controller.layout.pattern = [%d] %p %m (%c)%n
appender.controller.policies.type = Policies
appender.controller.policies.size.type = SizeBasedTriggeringPolicy
appender.controller.policies.size.size = 50MB
appender.controller.strategy.type = DefaultRolloverStrategy
appender.controller.strategy.max = 3

appender.state.type = RollingFile
appender.state.name = state
appender.state.fileName = $KAFKA_LOGS/state-change.log
appender.state.filePattern = $KAFKA_LOGS/state-change.log.%i
appender.state.layout.type = PatternLayout
appender.state.layout.pattern = [%d] %p %m (%c)%n
appender.state.policies.type = Policies
appender.state.policies.size.type = SizeBasedTriggeringPolicy
appender.state.policies.size.size = 50MB
appender.state.strategy.type = DefaultRolloverStrategy
appender.state.strategy.max = 3

appender.cleaner.type = RollingFile
appender.cleaner.name = cleaner
appender.cleaner.fileName = $KAFKA_LOGS/log-cleaner.log
appender.cleaner.filePattern = $KAFKA_LOGS/log-cleaner.log.%i
appender.cleaner.layout.type = PatternLayout
appender.cleaner.layout.pattern = [%d] %p %m (%c)%n
appender.cleaner.policies.type = Policies
appender.cleaner.policies.size.type = SizeBasedTriggeringPolicy
appender.cleaner.policies.size.size = 50MB
appender.cleaner.strategy.type = DefaultRolloverStrategy
appender.cleaner.strategy.max = 3

rootLogger.level = info
rootLogger.appenderRef.server.ref = server

logger.controller.name = org.apache.kafka.controller
logger.controller.level = info
logger.controller.additivity = false
logger.controller.appenderRef.controller.ref = controller

logger.state.name = state.change.logger
logger.state.level = info
logger.state.additivity = false
logger.state.appenderRef.state.ref = state

logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = info
logger.cleaner.additivity = false
logger.cleaner.appenderRef.cleaner.ref = cleaner

logger.request.name = kafka.request.logger
logger.request.level = warn
logger.network.name = kafka.network.RequestChannel\$
logger.network.level = warn
EOF

  cat >"$KAFKA_TOOLS_LOG4J" <<'EOF'
# Generated by deploy/local/kafka.sh (CLI tools: warnings and errors to stderr).
status = error
name = hcstream-kafka-tools
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
EOF
}

# kafka_tool CLASS ARGS...: run a Kafka command-line class with a small, fast-starting JVM.
kafka_tool() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" "$@"
}

format_storage() {
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    return 0
  fi
  local cluster_id
  if [[ -s $KAFKA_CLUSTER_ID_FILE ]]; then
    cluster_id=$(<"$KAFKA_CLUSTER_ID_FILE")
  else
    cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1)
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || hc_die "$KAFKA_NAME: StorageTool random-uuid returned '$cluster_id'"
    printf '%s\n' "$cluster_id" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  hc_log "$KAFKA_NAME: formatting $KAFKA_DATA (cluster id $cluster_id)"
  if ! kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONF" \
    >"$KAFKA_LOGS/format.log" 2>&1; then
    cat "$KAFKA_LOGS/format.log" >&2
    hc_die "$KAFKA_NAME: StorageTool format failed"
  fi
}

fail_start() {
  local msg=$1
  {
    echo "----- tail of $KAFKA_LOGS/server.log -----"
    tail -n 30 "$KAFKA_LOGS/server.log" 2>/dev/null || true
    echo "----- tail of $KAFKA_OUT (JVM stdout/stderr) -----"
    tail -n 15 "$KAFKA_OUT" 2>/dev/null || true
  } >&2
  hc_die "$KAFKA_NAME: $msg"
}

check_ports_free() {
  local port owner
  for port in "$HC_LOCAL_KAFKA_PORT" "$HC_LOCAL_KAFKA_CONTROLLER_PORT"; do
    if hc_port_open "$port"; then
      owner=$(hc_port_owner "$port")
      hc_die "$KAFKA_NAME: port $HC_LOCAL_HOST:$port is already in use${owner:+ by $owner} (not our broker). Stop it or set HC_LOCAL_KAFKA_PORT / HC_LOCAL_KAFKA_CONTROLLER_PORT."
    fi
  done
}

# cmd_start spawns the broker unless it runs already.
cmd_start() {
  local pid
  if pid=$(hc_running_pid "$KAFKA_PID" "$KAFKA_MARKER"); then
    hc_log "$KAFKA_NAME: already running (pid $pid)"
    return 0
  fi
  rm -f "$KAFKA_PID"
  ensure_java
  ensure_libs
  write_configs
  format_storage
  check_ports_free
  hc_log "$KAFKA_NAME: starting broker on $KAFKA_BOOTSTRAP (controller $HC_LOCAL_HOST:$HC_LOCAL_KAFKA_CONTROLLER_PORT, heap $HC_LOCAL_KAFKA_HEAP)"
  {
    echo
    echo "=== $(date -u +%FT%TZ) starting kafka.Kafka ==="
  } >>"$KAFKA_OUT"
  hc_spawn "$KAFKA_PID" "$KAFKA_OUT" \
    java "-Xms$HC_LOCAL_KAFKA_HEAP" "-Xmx$HC_LOCAL_KAFKA_HEAP" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    "-Xlog:gc*:file=$KAFKA_LOGS/gc.log:time,uptime,level,tags:filecount=5,filesize=20M" \
    "-Dlog4j2.configurationFile=$KAFKA_LOG4J" "-Dkafka.logs.dir=$KAFKA_LOGS" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
}

# cmd_wait waits until the running broker answers a metadata request.
cmd_wait() {
  local pid start deadline
  pid=$(hc_running_pid "$KAFKA_PID" "$KAFKA_MARKER") || fail_start "broker is not running"
  start=$(hc_now)
  deadline=$((start + HC_LOCAL_WAIT_SECONDS))
  hc_log "$KAFKA_NAME: waiting for $KAFKA_BOOTSTRAP to answer a metadata request (max ${HC_LOCAL_WAIT_SECONDS}s)"
  while :; do
    if ! hc_pid_matches "$pid" "$KAFKA_MARKER"; then
      rm -f "$KAFKA_PID"
      fail_start "broker process $pid exited during startup"
    fi
    if hc_port_open "$HC_LOCAL_KAFKA_PORT"; then
      # TopicCommand --list is a real Metadata/ListTopics round trip through the admin client.
      if timeout 30 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" \
        org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --list \
        >/dev/null 2>"$KAFKA_LOGS/readiness.err"; then
        break
      fi
    fi
    if (($(hc_now) >= deadline)); then
      cat "$KAFKA_LOGS/readiness.err" >&2 2>/dev/null || true
      fail_start "broker (pid $pid) did not answer on $KAFKA_BOOTSTRAP within ${HC_LOCAL_WAIT_SECONDS}s; it is left running (kafka.sh down to stop it)"
    fi
    sleep 0.5
  done
  hc_log "$KAFKA_NAME: ready on $KAFKA_BOOTSTRAP (pid $pid, $(($(hc_now) - start))s); logs in $KAFKA_LOGS"
}

cmd_up() {
  local pid
  if pid=$(hc_running_pid "$KAFKA_PID" "$KAFKA_MARKER") && hc_port_open "$HC_LOCAL_KAFKA_PORT"; then
    hc_log "$KAFKA_NAME: already running (pid $pid) on $KAFKA_BOOTSTRAP"
    return 0
  fi
  cmd_start
  cmd_wait
}

cmd_status() {
  local pid
  if pid=$(hc_running_pid "$KAFKA_PID" "$KAFKA_MARKER"); then
    if hc_port_open "$HC_LOCAL_KAFKA_PORT"; then
      hc_log "$KAFKA_NAME: running (pid $pid) on $KAFKA_BOOTSTRAP"
    else
      hc_log "$KAFKA_NAME: running (pid $pid) but $KAFKA_BOOTSTRAP is not accepting connections yet"
    fi
    return 0
  fi
  hc_log "$KAFKA_NAME: stopped"
  return 3
}

cmd_down() { hc_stop "$KAFKA_NAME" "$KAFKA_PID" "$KAFKA_MARKER" 30; }
cmd_stop_hard() { hc_kill_hard "$KAFKA_NAME" "$KAFKA_PID" "$KAFKA_MARKER"; }

cmd_tool() {
  [[ $# -ge 1 ]] || hc_die "usage: kafka.sh tool CLASS [ARGS...]"
  ensure_java
  ensure_libs
  [[ -f $KAFKA_TOOLS_LOG4J ]] || write_configs
  kafka_tool "$@"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  restart)
    cmd_down
    cmd_up
    ;;
  stop-hard) cmd_stop_hard ;;
  start) cmd_start ;;
  wait) cmd_wait ;;
  tool)
    shift
    cmd_tool "$@"
    ;;
  *)
    hc_usage_component "$0"
    echo "  start      spawn the broker without waiting for it (cluster nodes need their peers)" >&2
    echo "  wait       wait until the running broker answers a metadata request" >&2
    echo "  tool CLASS [ARGS...]  run a Kafka CLI class (e.g. org.apache.kafka.tools.TopicCommand)" >&2
    exit 2
    ;;
esac
