#!/usr/bin/env bash
# The benchmark's real peers, from Debian's packages: nginx (its `mirror` directive), wrk, and
# etcd-server (the store of the fleet benchmark).
# Nothing here starts, stops or reconfigures a service of the host: the benchmark runs its own nginx
# instances as private processes (own config, pid file and prefix, loopback ports). wrk is a plain
# binary and is installed; nginx and etcd, when the host has none, are unpacked into .bench/nginx and
# .bench/etcd rather than installed, because installing Debian's nginx or etcd-server package starts a
# system service (nginx on port 80; etcd on 2379/2380, enabled at boot) on a systemd host. The fleet
# benchmark (bench/replicas.ts) runs its etcd members from .bench/etcd as private processes too.
set -euo pipefail
cd "$(dirname "$0")/.."
private_nginx=.bench/nginx/usr/sbin/nginx
private_etcd=.bench/etcd/usr/bin/etcd
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && [ ! -x "$private_nginx" ]; then missing+=(nginx); fi
[ -x /usr/bin/etcd ] || [ -n "${ETCD_BIN:-}" ] || [ -x "$private_etcd" ] || missing+=(etcd-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup-bench: needs ${missing[*]}: run it as root (it installs wrk and unpacks nginx and etcd into .bench/ without starting any service), or set NGINX_BIN / ETCD_BIN" >&2
  exit 1
fi
apt-get update -qq
# A package's .deb, unpacked into .bench/DIR: its files, none of its maintainer scripts (no service is
# created, enabled or started).
unpack() {
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq "$1")
  mkdir -p ".bench/$2"
  dpkg-deb -x "$tmp/$1"_*.deb ".bench/$2"
  rm -rf "$tmp"
}
for m in "${missing[@]}"; do
  case "$m" in
    nginx)
      # The libraries nginx links against (none of them is a service), then nginx's own package, unpacked.
      NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcrypt1 libpcre2-8-0 libssl3 zlib1g >/dev/null
      unpack nginx nginx
      ;;
    etcd-server)
      # A Go binary that needs only libc; its package's postinst would start etcd.service.
      unpack etcd-server etcd
      ;;
    *)
      # wrk is a plain binary.
      NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$m" >/dev/null
      ;;
  esac
done
