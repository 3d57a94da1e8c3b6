#!/usr/bin/env bash
# Local private ClickHouse server (Debian bookworm's clickhouse-server 18.16) on 127.0.0.1.
#
#   deploy/local/clickhouse.sh {up|down|status|restart|stop-hard}
#   deploy/local/clickhouse.sh client [ARGS...]   clickhouse-client against the local server,
#       e.g. deploy/local/clickhouse.sh client -q 'SELECT version()'
#
# Installs clickhouse-server/clickhouse-client with apt if needed, but never uses the
# package's system service: the server runs from a private config in $HC_LOCAL_DIR/clickhouse:
#   etc/config.xml, etc/users.xml        copies of /etc/clickhouse-server/*.xml (refreshed each start)
#   etc/config.d/hcstream.xml            our overrides: paths, ports, listen_host, caches
#   etc/users.d/hcstream.xml             our overrides: memory caps and thread limits for the default profile
#   data/                                databases (persist across down/up)
#   log/                                 clickhouse-server.log, clickhouse-server.err.log, clickhouse.out
#   clickhouse.pid
set -euo pipefail

# shellcheck source=deploy/local/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"

CH_HOME=$HC_LOCAL_DIR/clickhouse
CH_ETC=$CH_HOME/etc
CH_CONFIG=$CH_ETC/config.xml
CH_DATA=$CH_HOME/data
CH_LOGS=$CH_HOME/log
CH_OUT=$CH_LOGS/clickhouse.out
CH_PID=$CH_HOME/clickhouse.pid
CH_SYSTEM_ETC=/etc/clickhouse-server
CH_ADDR=$HC_LOCAL_HOST:$HC_LOCAL_CLICKHOUSE_PORT
# Our server's command line contains the absolute path of its private config.xml.
CH_MARKER=$CH_CONFIG

ch_server_bin() {
  command -v clickhouse-server 2>/dev/null || {
    [[ -x /usr/sbin/clickhouse-server ]] && echo /usr/sbin/clickhouse-server
  }
}

ch_client() {
  clickhouse-client --host "$HC_LOCAL_HOST" --port "$HC_LOCAL_CLICKHOUSE_PORT" "$@"
}

ensure_installed() {
  if [[ -n $(ch_server_bin) ]] && command -v clickhouse-client >/dev/null 2>&1 &&
    [[ -f $CH_SYSTEM_ETC/config.xml && -f $CH_SYSTEM_ETC/users.xml ]]; then
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || hc_die "clickhouse: clickhouse-server is not installed and installing it needs root"
  local start policy=/usr/sbin/policy-rc.d created_policy=0
  start=$(hc_now)
  # The package's postinst runs `invoke-rc.d clickhouse-server start` (and exits non-zero if that
  # fails). We never use that system service, so keep it from starting during the install with a
  # temporary policy-rc.d (exit 101 = "action forbidden"), unless the machine already has one.
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary: hcstream deploy/local/clickhouse.sh is installing packages\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  hc_log "clickhouse: installing clickhouse-server and clickhouse-client (Debian package, service not started)"
  hc_apt_install clickhouse-server clickhouse-client
  if ((created_policy)); then
    rm -f "$policy"
    trap - EXIT
  fi
  [[ -n $(ch_server_bin) ]] || hc_die "clickhouse: clickhouse-server binary still missing after apt-get install"
  hc_log "clickhouse: installed $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null) ($(($(hc_now) - start))s)"
}

# system_server_pids: clickhouse-server processes running the package's own config (the Debian
# system service), never our private servers.
system_server_pids() {
  local d cmdline
  for d in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
    [[ $cmdline == *clickhouse-server* && $cmdline == *"$CH_SYSTEM_ETC/config.xml"* ]] || continue
    printf '%s\n' "${d#/proc/}"
  done
}

# free_ports: make sure our ports are free. A system clickhouse-server (started by the Debian
# package on a machine with systemd/sysvinit, or by hand) listens on 9000/8123/9009 by default;
# if it holds one of our ports it is stopped. Anything else on our ports is an error.
free_ports() {
  local port busy=() owner pids pid deadline
  for port in "$HC_LOCAL_CLICKHOUSE_PORT" "$HC_LOCAL_CLICKHOUSE_HTTP_PORT"; do
    hc_port_open "$port" && busy+=("$port")
  done
  ((${#busy[@]})) || return 0

  pids=$(system_server_pids)
  if [[ -n $pids ]]; then
    hc_log "clickhouse: the system clickhouse-server service (pid $(echo "$pids" | paste -sd, -)) holds port(s) ${busy[*]}; stopping it"
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 &&
      systemctl is-active --quiet clickhouse-server 2>/dev/null; then
      systemctl stop clickhouse-server || true
      hc_log "clickhouse: stopped clickhouse-server.service (it stays enabled; 'systemctl disable clickhouse-server' keeps it from coming back at boot)"
    fi
    # Not `service clickhouse-server stop`: the package's init script also runs
    # `start-stop-daemon --stop --exec /usr/sbin/clickhouse-server` without --user, which would
    # kill every clickhouse-server on the machine, including private ones. Signal by pid instead.
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    deadline=$(($(hc_now) + 30))
    for pid in $pids; do
      while kill -0 "$pid" 2>/dev/null; do
        if (($(hc_now) >= deadline)); then
          kill -KILL "$pid" 2>/dev/null || true
          break
        fi
        sleep 0.2
      done
    done
    sleep 0.5
  fi

  for port in "${busy[@]}"; do
    if hc_port_open "$port"; then
      owner=$(hc_port_owner "$port")
      hc_die "clickhouse: port $HC_LOCAL_HOST:$port is already in use${owner:+ by $owner} (not our server). Stop it or set HC_LOCAL_CLICKHOUSE_PORT / HC_LOCAL_CLICKHOUSE_HTTP_PORT."
    fi
  done
}

write_config() {
  mkdir -p "$CH_ETC/config.d" "$CH_ETC/users.d" "$CH_DATA" "$CH_LOGS"
  # Copy the package's config and drop the listeners we must not open: any uncommented
  # listen_host (we set our own), the TLS ports, and the interserver (replication) port 9009.
  # Everything else is overridden by config.d/hcstream.xml, which ClickHouse merges on top.
  sed -E \
    -e '/^[[:space:]]*<listen_host>.*<\/listen_host>[[:space:]]*$/d' \
    -e '/^[[:space:]]*<tcp_port_secure>.*<\/tcp_port_secure>[[:space:]]*$/d' \
    -e '/^[[:space:]]*<https_port>.*<\/https_port>[[:space:]]*$/d' \
    -e '/^[[:space:]]*<interserver_http_port>.*<\/interserver_http_port>[[:space:]]*$/d' \
    "$CH_SYSTEM_ETC/config.xml" >"$CH_CONFIG.tmp"
  mv "$CH_CONFIG.tmp" "$CH_CONFIG"
  cp "$CH_SYSTEM_ETC/users.xml" "$CH_ETC/users.xml"

  cat >"$CH_ETC/config.d/hcstream.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by deploy/local/clickhouse.sh; rewritten on every start. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_LOGS/clickhouse-server.log</log>
        <errorlog>$CH_LOGS/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <path>$CH_DATA/</path>
    <tmp_path>$CH_DATA/tmp/</tmp_path>
    <user_files_path>$CH_DATA/user_files/</user_files_path>
    <format_schema_path>$CH_DATA/format_schemas/</format_schema_path>
    <listen_host>$HC_LOCAL_HOST</listen_host>
    <tcp_port>$HC_LOCAL_CLICKHOUSE_PORT</tcp_port>
    <http_port>$HC_LOCAL_CLICKHOUSE_HTTP_PORT</http_port>
    <tcp_port_secure remove="1"/>
    <https_port remove="1"/>
    <interserver_http_port remove="1"/>
    <!-- Smaller than the package defaults (5 GiB / 8 GiB, allocated on demand). -->
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
EOF

  # 18.16 has no server-wide max_server_memory_usage; cap the default profile instead: per query
  # and for all queries together.
  cat >"$CH_ETC/users.d/hcstream.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by deploy/local/clickhouse.sh; rewritten on every start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>$HC_LOCAL_CLICKHOUSE_MAX_MEMORY</max_memory_usage>
            <max_memory_usage_for_all_queries>$HC_LOCAL_CLICKHOUSE_MAX_MEMORY</max_memory_usage_for_all_queries>
            <!-- A dev or CI machine has two cores shared with Kafka, hcstream and the load
                 tool: merges and queries each get at most $HC_LOCAL_CLICKHOUSE_THREADS threads. -->
            <background_pool_size>$HC_LOCAL_CLICKHOUSE_THREADS</background_pool_size>
            <max_threads>$HC_LOCAL_CLICKHOUSE_THREADS</max_threads>
            <!-- system.query_log keeps every statement hcstream sends, so that
                 make test-current-clickhouse can run each one on current ClickHouse. -->
            <log_queries>1</log_queries>
        </default>
    </profiles>
</yandex>
EOF
}

fail_start() {
  local msg=$1
  {
    echo "----- tail of $CH_LOGS/clickhouse-server.err.log -----"
    tail -n 30 "$CH_LOGS/clickhouse-server.err.log" 2>/dev/null || true
    echo "----- tail of $CH_OUT -----"
    tail -n 20 "$CH_OUT" 2>/dev/null || true
  } >&2
  hc_die "clickhouse: $msg"
}

cmd_up() {
  local pid start deadline next_note now out bin
  if pid=$(hc_running_pid "$CH_PID" "$CH_MARKER"); then
    if [[ $(ch_client -q 'SELECT 1' 2>/dev/null) == 1 ]]; then
      hc_log "clickhouse: already running (pid $pid) on $CH_ADDR"
      return 0
    fi
    hc_log "clickhouse: process $pid exists but does not answer yet; waiting"
  else
    rm -f "$CH_PID"
    ensure_installed
    free_ports
    write_config
    bin=$(ch_server_bin)
    hc_log "clickhouse: starting server on $CH_ADDR (http $HC_LOCAL_HOST:$HC_LOCAL_CLICKHOUSE_HTTP_PORT, data $CH_DATA)"
    {
      echo
      echo "=== $(date -u +%FT%TZ) starting $bin ==="
    } >>"$CH_OUT"
    hc_spawn "$CH_PID" "$CH_OUT" "$bin" "--config-file=$CH_CONFIG"
    pid=$(<"$CH_PID")
  fi

  start=$(hc_now)
  deadline=$((start + HC_LOCAL_WAIT_SECONDS))
  next_note=$((start + 15))
  hc_log "clickhouse: waiting for 'SELECT 1' on $CH_ADDR (max ${HC_LOCAL_WAIT_SECONDS}s)"
  while :; do
    if ! hc_pid_matches "$pid" "$CH_MARKER"; then
      rm -f "$CH_PID"
      fail_start "server process $pid exited during startup"
    fi
    out=$(timeout 5 clickhouse-client --host "$HC_LOCAL_HOST" --port "$HC_LOCAL_CLICKHOUSE_PORT" \
      -q 'SELECT 1' 2>/dev/null) || true
    [[ $out == 1 ]] && break
    now=$(hc_now)
    if ((now >= deadline)); then
      fail_start "server (pid $pid) did not answer on $CH_ADDR within ${HC_LOCAL_WAIT_SECONDS}s; it is left running (clickhouse.sh down to stop it)"
    fi
    if ((now >= next_note)); then
      hc_log "clickhouse: still loading after $((now - start))s ($(du -sh "$CH_DATA" 2>/dev/null | cut -f1) of data); see $CH_LOGS"
      next_note=$((now + 15))
    fi
    sleep 0.3
  done
  hc_log "clickhouse: ready on $CH_ADDR (pid $pid, version $(ch_client -q 'SELECT version()'), $(($(hc_now) - start))s); logs in $CH_LOGS"
}

cmd_status() {
  local pid
  if pid=$(hc_running_pid "$CH_PID" "$CH_MARKER"); then
    if [[ $(timeout 5 clickhouse-client --host "$HC_LOCAL_HOST" --port "$HC_LOCAL_CLICKHOUSE_PORT" \
      -q 'SELECT 1' 2>/dev/null) == 1 ]]; then
      hc_log "clickhouse: running (pid $pid) on $CH_ADDR"
    else
      hc_log "clickhouse: running (pid $pid) but $CH_ADDR does not answer queries"
    fi
    return 0
  fi
  hc_log "clickhouse: stopped"
  return 3
}

cmd_down() { hc_stop clickhouse "$CH_PID" "$CH_MARKER" 30; }
cmd_stop_hard() { hc_kill_hard clickhouse "$CH_PID" "$CH_MARKER"; }

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  restart)
    cmd_down
    cmd_up
    ;;
  stop-hard) cmd_stop_hard ;;
  client)
    shift
    ch_client "$@"
    ;;
  *)
    hc_usage_component "$0"
    echo "  client [ARGS...]  clickhouse-client connected to the local server" >&2
    exit 2
    ;;
esac
