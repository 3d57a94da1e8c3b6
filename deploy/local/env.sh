# shellcheck shell=bash
# Shared settings and helpers for the local hcstream stack (Kafka + ClickHouse on loopback).
# Sourced by kafka.sh, clickhouse.sh, up.sh, down.sh and status.sh; not meant to be run.
#
# Overridable environment variables (defaults in brackets):
#   HC_LOCAL_DIR                     data/runtime root                  [<repo>/.local]
#   HC_LOCAL_KAFKA_PORT              Kafka PLAINTEXT listener           [9092]
#   HC_LOCAL_KAFKA_CONTROLLER_PORT   Kafka KRaft CONTROLLER listener    [9093]
#   HC_LOCAL_KAFKA_HEAP              broker JVM heap (-Xms/-Xmx)        [512m]
#   HC_LOCAL_CLICKHOUSE_PORT         ClickHouse native TCP port         [9000]
#   HC_LOCAL_CLICKHOUSE_HTTP_PORT    ClickHouse HTTP port               [8123]
#   HC_LOCAL_CLICKHOUSE_MAX_MEMORY   ClickHouse memory cap in bytes     [2147483648]
#   HC_LOCAL_WAIT_SECONDS            readiness timeout for `up`         [300]
#                                    (a fresh stack answers in seconds; a data dir
#                                    that has grown for weeks takes minutes to load)
#   HC_LOCAL_CLICKHOUSE_THREADS      ClickHouse merge and query threads [2]

HC_LOCAL_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HC_LOCAL_REPO_ROOT=$(cd "$HC_LOCAL_SCRIPT_DIR/../.." && pwd)

HC_LOCAL_DIR=${HC_LOCAL_DIR:-$HC_LOCAL_REPO_ROOT/.local}
mkdir -p "$HC_LOCAL_DIR"
HC_LOCAL_DIR=$(cd "$HC_LOCAL_DIR" && pwd) # absolute, so configs stay valid from any cwd

HC_LOCAL_HOST=127.0.0.1
HC_LOCAL_KAFKA_PORT=${HC_LOCAL_KAFKA_PORT:-9092}
HC_LOCAL_KAFKA_CONTROLLER_PORT=${HC_LOCAL_KAFKA_CONTROLLER_PORT:-9093}
HC_LOCAL_KAFKA_HEAP=${HC_LOCAL_KAFKA_HEAP:-512m}
HC_LOCAL_CLICKHOUSE_PORT=${HC_LOCAL_CLICKHOUSE_PORT:-9000}
HC_LOCAL_CLICKHOUSE_HTTP_PORT=${HC_LOCAL_CLICKHOUSE_HTTP_PORT:-8123}
HC_LOCAL_CLICKHOUSE_MAX_MEMORY=${HC_LOCAL_CLICKHOUSE_MAX_MEMORY:-2147483648}
HC_LOCAL_WAIT_SECONDS=${HC_LOCAL_WAIT_SECONDS:-300}
HC_LOCAL_CLICKHOUSE_THREADS=${HC_LOCAL_CLICKHOUSE_THREADS:-2}

export HC_LOCAL_DIR HC_LOCAL_KAFKA_PORT HC_LOCAL_KAFKA_CONTROLLER_PORT HC_LOCAL_KAFKA_HEAP \
  HC_LOCAL_CLICKHOUSE_PORT HC_LOCAL_CLICKHOUSE_HTTP_PORT HC_LOCAL_CLICKHOUSE_MAX_MEMORY \
  HC_LOCAL_WAIT_SECONDS HC_LOCAL_CLICKHOUSE_THREADS

# Values the Go integration tests read (written to $HC_LOCAL_DIR/test.env by up.sh).
# shellcheck disable=SC2034 # used by up.sh / status.sh
HC_TEST_KAFKA="$HC_LOCAL_HOST:$HC_LOCAL_KAFKA_PORT"
# shellcheck disable=SC2034
HC_TEST_CLICKHOUSE="$HC_LOCAL_HOST:$HC_LOCAL_CLICKHOUSE_PORT"

for _hc_var in HC_LOCAL_KAFKA_PORT HC_LOCAL_KAFKA_CONTROLLER_PORT HC_LOCAL_CLICKHOUSE_PORT \
  HC_LOCAL_CLICKHOUSE_HTTP_PORT HC_LOCAL_CLICKHOUSE_MAX_MEMORY HC_LOCAL_WAIT_SECONDS HC_LOCAL_CLICKHOUSE_THREADS; do
  if ! [[ ${!_hc_var} =~ ^[0-9]+$ ]]; then
    printf '[hcstream-local] ERROR: %s must be a number, got %q\n' "$_hc_var" "${!_hc_var}" >&2
    exit 2
  fi
done
unset _hc_var

hc_log() { printf '[hcstream-local] %s\n' "$*"; }
hc_warn() { printf '[hcstream-local] WARNING: %s\n' "$*" >&2; }
hc_die() {
  printf '[hcstream-local] ERROR: %s\n' "$*" >&2
  exit 1
}

# hc_now: seconds since the epoch (bash builtin, no fork).
hc_now() { printf '%(%s)T' -1; }

# hc_port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
hc_port_open() {
  # shellcheck disable=SC2016 # $0/$1 expand in the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HC_LOCAL_HOST" "$1" 2>/dev/null
}

# hc_port_owner PORT: "pid/command" of the listener on PORT, if ss can tell.
hc_port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*",pid=[0-9]*\).*/\1/p' | head -n 1
}

# hc_pid_matches PID MARKER: true if PID is alive and its command line contains MARKER
# (guards against stale pid files whose pid was reused by an unrelated process).
hc_pid_matches() {
  local pid=$1 marker=$2 cmdline
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$marker"* ]]
}

# hc_running_pid PIDFILE MARKER: prints the pid and succeeds if the process is running.
hc_running_pid() {
  local pidfile=$1 marker=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  hc_pid_matches "$pid" "$marker" || return 1
  printf '%s\n' "$pid"
}

# hc_spawn PIDFILE OUTFILE CMD...: start CMD detached (own session, stdin from /dev/null,
# stdout+stderr appended to OUTFILE) and record its pid in PIDFILE.
hc_spawn() {
  local pidfile=$1 outfile=$2
  shift 2
  rm -f "$pidfile"
  # The inner shell writes its own pid and then execs the command, so the pid stays valid
  # whether or not setsid had to fork.
  # shellcheck disable=SC2016
  setsid bash -c 'echo "$$" >"$0.tmp" && mv "$0.tmp" "$0" && exec nohup "$@"' "$pidfile" "$@" \
    </dev/null >>"$outfile" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && return 0
    sleep 0.1
  done
  hc_die "process did not start (no pid file $pidfile); see $outfile"
}

# hc_stop NAME PIDFILE MARKER GRACE_SECONDS: SIGTERM, wait, then SIGKILL. Removes PIDFILE.
hc_stop() {
  local name=$1 pidfile=$2 marker=$3 grace=$4 pid deadline
  if ! pid=$(hc_running_pid "$pidfile" "$marker"); then
    hc_log "$name: not running"
    rm -f "$pidfile"
    return 0
  fi
  hc_log "$name: stopping pid $pid (SIGTERM, up to ${grace}s)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(hc_now) + grace))
  while hc_pid_matches "$pid" "$marker"; do
    if (($(hc_now) >= deadline)); then
      hc_warn "$name: still running after ${grace}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  hc_log "$name: stopped"
}

# hc_kill_hard NAME PIDFILE MARKER: SIGKILL immediately (fault injection). Keeps data.
hc_kill_hard() {
  local name=$1 pidfile=$2 marker=$3 pid i
  if ! pid=$(hc_running_pid "$pidfile" "$marker"); then
    hc_log "$name: not running"
    rm -f "$pidfile"
    return 0
  fi
  hc_log "$name: SIGKILL pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    hc_pid_matches "$pid" "$marker" || break
    sleep 0.1
  done
  rm -f "$pidfile"
  hc_log "$name: killed"
}

# hc_apt_install PKG...: install Debian packages non-interactively; runs `apt-get update`
# only if the first attempt fails (e.g. unknown package or stale lists).
hc_apt_install() {
  command -v apt-get >/dev/null 2>&1 || hc_die "apt-get not found; install $* manually"
  if [[ $(id -u) -ne 0 ]]; then
    hc_die "installing $* needs root (run as root, or install the packages first)"
  fi
  local log=$HC_LOCAL_DIR/apt.log
  hc_log "apt-get install -y $* (output in $log)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
    hc_log "install failed; running apt-get update and retrying"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; } >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      hc_die "apt-get install $* failed (full output in $log)"
    fi
  fi
}

# hc_usage_component SCRIPT: usage text for kafka.sh / clickhouse.sh.
hc_usage_component() {
  cat >&2 <<EOF
usage: $1 {up|down|status|restart|stop-hard}
  up         install if needed, start, wait until ready (no-op if already running)
  down       SIGTERM, wait up to 30 s, then SIGKILL; data is kept
  status     print running/stopped; exit 0 if running, 3 if not
  restart    down, then up
  stop-hard  SIGKILL immediately (fault tests); data is kept
EOF
}
