#!/usr/bin/env bash
# The benchmark's real peers, from Debian's packages: nginx (its `mirror` directive), wrk, and
# etcd-server (the store of the fleet benchmark).
# Nothing here starts, stops or reconfigures a service of the host: the benchmark runs its own nginx
# instances as private processes (own config, pid file and prefix, loopback ports). wrk is a plain
# binary and is installed; nginx, when the host has none, is unpacked into .bench/nginx rather than
# installed, because installing Debian's nginx package starts a system nginx on port 80.
set -euo pipefail
cd "$(dirname "$0")/.."
private_nginx=.bench/nginx/usr/sbin/nginx
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && [ ! -x "$private_nginx" ]; then missing+=(nginx); fi
[ -x /usr/bin/etcd ] || [ -n "${ETCD_BIN:-}" ] || missing+=(etcd-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup-bench: needs ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
for m in "${missing[@]}"; do
  if [ "$m" != nginx ]; then
    # wrk is a plain binary; etcd-server is what .ci/run installs for the fleet tests too.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$m" >/dev/null
  else
    # The libraries nginx links against (none of them is a service), then nginx's own package, unpacked.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcrypt1 libpcre2-8-0 libssl3 zlib1g >/dev/null
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq nginx)
    mkdir -p .bench/nginx
    dpkg-deb -x "$tmp"/nginx_*.deb .bench/nginx
    rm -rf "$tmp"
  fi
done
