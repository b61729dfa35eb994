#!/usr/bin/env bash
# xvs's main job, on a fresh machine: build, start a network-namespace lab
# (a client, the director, three real web servers), run a live xvs load
# balancer on it with config/lab.yaml (NAT, round robin), send real HTTP
# requests through the VIP, show where they went, and clean up.
#
# Needs root (network namespaces, XDP, AF_XDP). Everything stays inside
# namespaces this script creates; addresses are 198.18.0.0/15 only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: needs root (network namespaces, XDP and AF_XDP)" >&2
    exit 1
fi
scripts/install-deps.sh
echo "== building (release)"
cargo build --release -q -p xvs -p xvs-lab
bin=target/release
prefix=xvs-
sock=/run/xvs/demo.sock

cleanup() {
    [ -n "${xvs_pid:-}" ] && kill "$xvs_pid" 2>/dev/null && wait "$xvs_pid" 2>/dev/null
    "$bin/xvs-lab" down --prefix "$prefix" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== lab: client 198.18.0.10 -> VIP 198.18.0.100:80 -> real servers 198.18.1.11-13"
"$bin/xvs-lab" down --prefix "$prefix" >/dev/null 2>&1 || true
"$bin/xvs-lab" up --method nat --prefix "$prefix" --real-servers 3

echo "== xvs run -c config/lab.yaml (in the director's namespace)"
ip netns exec "${prefix}dir" "$bin/xvs" run -c config/lab.yaml --control "$sock" &
xvs_pid=$!
for _ in $(seq 50); do
    "$bin/xvs" list --control "$sock" >/dev/null 2>&1 && break
    sleep 0.2
done
"$bin/xvs" list --control "$sock"

echo "== 30 HTTP requests from the client through the VIP"
"$bin/xvs-lab" client --prefix "$prefix" http://198.18.0.100/ --count 30

echo "== where they went (xvs list --stats)"
"$bin/xvs" list --stats --control "$sock"
