#!/usr/bin/env bash
# The benchmark's real peers, from Debian's packages: nginx (its `mirror` directive), wrk, and
# etcd-server (the store of the fleet benchmark).
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -x /usr/bin/etcd ] || [ -n "${ETCD_BIN:-}" ] || missing+=(etcd-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup-bench: needs ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# Debian starts the packaged nginx service; the benchmark runs its own instances.
(systemctl stop nginx 2>/dev/null || service nginx stop 2>/dev/null || pkill -x nginx) || true
