#!/bin/sh
# Network namespaces for the multi-host cluster test (cluster_netns_test.cc).
#
#   netns.sh up TAG NAME...   one namespace "cfTAG-NAME" per NAME, each with a veth
#                             link to a bridge "cfTAGbr" in the root namespace;
#                             the bridge is 10.99.0.1/24, NAME number i (from 0)
#                             is 10.99.0.(i+2). No default route: traffic stays
#                             inside 10.99.0.0/24.
#   netns.sh down TAG         removes every namespace, veth and the bridge of TAG
#                             (idempotent; also after a failed "up").
set -eu
cmd=$1; tag=$2; shift 2
br="cf${tag}br"
case "$cmd" in
up)
  ip link add "$br" type bridge
  ip addr add 10.99.0.1/24 dev "$br"
  ip link set "$br" up
  i=2
  for name in "$@"; do
    ns="cf${tag}-${name}"
    host="cf${tag}v${i}"
    ip netns add "$ns"
    ip link add "$host" type veth peer name eth0 netns "$ns"
    ip link set "$host" master "$br" up
    ip -n "$ns" addr add "10.99.0.${i}/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    i=$((i + 1))
  done
  ;;
down)
  for ns in $(ip netns list | awk '{print $1}' | grep "^cf${tag}-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$ns" || true
  done
  for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^cf${tag}v" || true); do
    ip link delete "$link" 2>/dev/null || true
  done
  ip link delete "$br" 2>/dev/null || true
  ;;
*)
  echo "usage: netns.sh up|down TAG [NAME...]" >&2
  exit 2
  ;;
esac
