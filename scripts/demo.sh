#!/usr/bin/env bash
# xvs's main job, on a fresh machine: build, start a network-namespace lab
# (a client, the director, three real web servers), run a live xvs load
# balancer on it with config/lab.yaml (NAT, round robin, health-checked),
# send real HTTP requests through the VIP, show where they went, make one
# real server fail its health check and watch it leave rotation and come
# back, and clean up.
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

echo "== health checks (xvs status): every real server checked every second"
"$bin/xvs" status --control "$sock"

# Wait (at most 10 s) until `xvs status` shows real server $1 as $2.
wait_state() {
    for _ in $(seq 50); do
        "$bin/xvs" status --json --control "$sock" | python3 -c '
import json, sys
rip, want = sys.argv[1], sys.argv[2] == "up"
st = json.load(sys.stdin)
ok = any(r["address"] == rip and r["up"] == want
         for s in st["services"] for r in s["real_servers"])
sys.exit(0 if ok else 1)' "$1" "$2" && return 0
        sleep 0.2
    done
    echo "demo: $1 did not go $2" >&2
    return 1
}

echo "== rs3 falls ill: its /health answers 500; the checker takes it out"
"$bin/xvs-lab" health --prefix "$prefix" --real-server 3 --status 500
wait_state 198.18.1.13 down
"$bin/xvs" status --control "$sock"
echo "== 30 more requests: none goes to rs3"
"$bin/xvs-lab" client --prefix "$prefix" http://198.18.0.100/ --count 30

echo "== rs3 recovers: back in rotation once its check passes"
"$bin/xvs-lab" health --prefix "$prefix" --real-server 3 --reset
wait_state 198.18.1.13 up
"$bin/xvs-lab" client --prefix "$prefix" http://198.18.0.100/ --count 30
"$bin/xvs" list --stats --control "$sock"
