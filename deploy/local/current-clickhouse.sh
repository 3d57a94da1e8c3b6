#!/usr/bin/env bash
# Current ClickHouse beside the local 18.16: every statement hcstream sent to the local
# server is run again on ClickHouse 25.8, and reads must answer the same on both.
#
#   deploy/local/current-clickhouse.sh install   install chDB (ClickHouse 25.8 in process,
#                                                from PyPI) into $HC_LOCAL_DIR/chdb-<version>
#   deploy/local/current-clickhouse.sh install-background   the same, at idle priority, in
#                                                the background (`make test` overlaps it with
#                                                the integration tests)
#   deploy/local/current-clickhouse.sh check     install if needed, then run
#                                                schemas/clickhouse/current/check.py on the
#                                                statements logged since `make integration`
#                                                began, and drop the test databases (not in CI)
#
# Debian offers ClickHouse 18.16 only, and no current server is reachable here. chDB is
# ClickHouse's own engine in a Python module: the same parser, analyzer, functions and
# table engines as the 25.8 server, without the network protocol. So check.py replays the
# statements' text, which 18.16's system.query_log keeps whole (clickhouse-go binds
# parameters on the client).
set -euo pipefail

# shellcheck source=deploy/local/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"

# chDB 3.7.2 embeds ClickHouse 25.8.2, the current long-term-support release. It needs
# pyarrow to load; pandas, its other dependency, only for DataFrames, which we never use.
CHDB_VERSION=3.7.2
PYARROW_VERSION=26.0.1
CHDB_VENV=$HC_LOCAL_DIR/chdb-$CHDB_VERSION
CHECK_PY=$HC_LOCAL_REPO_ROOT/schemas/clickhouse/current/check.py
STATEMENTS_SINCE=$HC_LOCAL_DIR/statements-since

cmd_install() {
  [[ -f $CHDB_VENV/installed ]] && return 0
  # One install at a time: `make test` starts one in the background (install-background)
  # and the check waits for it here.
  exec 9>"$HC_LOCAL_DIR/chdb-install.lock"
  flock 9
  [[ -f $CHDB_VENV/installed ]] && return 0
  command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null ||
    hc_apt_install python3 python3-venv
  hc_log "current clickhouse: installing chDB $CHDB_VERSION (ClickHouse 25.8) into $CHDB_VENV"
  rm -rf "$CHDB_VENV"
  python3 -m venv "$CHDB_VENV"
  "$CHDB_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "chdb==$CHDB_VERSION" "pyarrow==$PYARROW_VERSION" ||
    hc_die "current clickhouse: pip could not install chdb==$CHDB_VERSION pyarrow==$PYARROW_VERSION from PyPI"
  "$CHDB_VENV/bin/python" -c 'import chdb' ||
    hc_die "current clickhouse: chDB $CHDB_VERSION installed but does not load"
  touch "$CHDB_VENV/installed"
}

cmd_check() {
  [[ -f $STATEMENTS_SINCE ]] ||
    hc_die "current clickhouse: $STATEMENTS_SINCE is missing: run \`make integration\` (or \`make test\`) first"
  cmd_install
  # The test databases kept for the check are dropped after it, except in CI: its
  # machine is thrown away, and dropping 41 databases took 18 s there.
  local drop=--drop-test-databases
  [[ ${CI:-} == true ]] && drop=
  "$CHDB_VENV/bin/python" "$CHECK_PY" --since "$(cat "$STATEMENTS_SINCE")" \
    --http "http://$HC_LOCAL_HOST:$HC_LOCAL_CLICKHOUSE_HTTP_PORT" $drop
}

# install-background: the install at the lowest CPU and disk priority, so that it takes
# only what the integration tests leave idle (most of their last minutes are sleeps).
cmd_install_background() {
  [[ -f $CHDB_VENV/installed ]] && return 0
  nohup nice -n 19 ionice -c 3 "$0" install >"$HC_LOCAL_DIR/chdb-install.log" 2>&1 &
  hc_log "current clickhouse: installing chDB in the background (log: $HC_LOCAL_DIR/chdb-install.log)"
}

case ${1:-} in
install) cmd_install ;;
install-background) cmd_install_background ;;
check) cmd_check ;;
*)
  echo "usage: $0 {install|install-background|check}" >&2
  exit 2
  ;;
esac
