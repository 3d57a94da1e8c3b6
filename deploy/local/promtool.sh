#!/usr/bin/env bash
# Prometheus' promtool, for the alerting rules in deploy/prometheus:
#
#   deploy/local/promtool.sh install        fetch Debian's prometheus package and keep only
#                                           promtool, in $HC_LOCAL_DIR/promtool/ (nothing is
#                                           installed system-wide, no service is started)
#   deploy/local/promtool.sh check-alerts   install if needed, then check deploy/prometheus/
#                                           alerts.yml and run its unit tests (alerts_test.yml)
set -euo pipefail

# shellcheck source=deploy/local/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"

PROMTOOL_DIR=$HC_LOCAL_DIR/promtool
PROMTOOL=$PROMTOOL_DIR/promtool
RULES_DIR=$HC_LOCAL_REPO_ROOT/deploy/prometheus

cmd_install() {
  [[ -x $PROMTOOL ]] && return 0
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 ||
    hc_die "promtool: apt-get and dpkg-deb are needed to fetch Debian's prometheus package"
  local work=$PROMTOOL_DIR/download
  rm -rf "$work"
  mkdir -p "$work"
  hc_log "promtool: fetching Debian's prometheus package for its promtool"
  if ! (cd "$work" && apt-get download -q prometheus >>"$work/apt.log" 2>&1); then
    (cd "$work" && apt-get update -q >>"$work/apt.log" 2>&1 && apt-get download -q prometheus >>"$work/apt.log" 2>&1) || {
      tail -n 20 "$work/apt.log" >&2
      hc_die "promtool: apt-get download prometheus failed (log above)"
    }
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  cp "$work/root/usr/bin/promtool" "$PROMTOOL.tmp"
  mv "$PROMTOOL.tmp" "$PROMTOOL"
  rm -rf "$work"
  hc_log "promtool: $("$PROMTOOL" --version 2>&1 | head -n 1)"
}

cmd_check_alerts() {
  cmd_install
  "$PROMTOOL" check rules "$RULES_DIR/alerts.yml"
  (cd "$RULES_DIR" && "$PROMTOOL" test rules alerts_test.yml)
}

case ${1:-} in
install) cmd_install ;;
check-alerts) cmd_check_alerts ;;
*)
  echo "usage: $0 {install|check-alerts}" >&2
  exit 2
  ;;
esac
