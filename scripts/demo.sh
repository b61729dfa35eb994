#!/usr/bin/env bash
# xvs's main job, on a fresh machine: build, start a network-namespace lab
# (a client, the director, three real web servers), run a live xvs load
# balancer on it with config/lab.yaml (NAT, round robin, health-checked),
# send real HTTP requests through the VIP, show where they went, make one
# real server fail its health check and watch it leave rotation and come
# back; then a VRRP pair of directors: requests flow through the master,
# the master is killed, the backup takes over, and the demo prints how
# many requests the client lost; clean up.
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
    for pid in ${xvs_pid:-} ${master_pid:-} ${backup_pid:-}; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
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

echo
echo "== VRRP: two directors, one VIP. A new lab with a client, the pair and"
echo "   three real servers; director .2 runs config/lab-pair-master.yaml"
echo "   (priority 150), director .3 config/lab-pair-backup.yaml (100)"
kill "$xvs_pid" 2>/dev/null && wait "$xvs_pid" 2>/dev/null || true
xvs_pid=
"$bin/xvs-lab" down --prefix "$prefix" >/dev/null 2>&1 || true
"$bin/xvs-lab" up --method nat --prefix "$prefix" --real-servers 3 --directors 2
msock=/run/xvs/demo-master.sock
bsock=/run/xvs/demo-backup.sock
ip netns exec "${prefix}dir" "$bin/xvs" run -c config/lab-pair-master.yaml --control "$msock" 2>/tmp/xvs-demo-master.log &
master_pid=$!
ip netns exec "${prefix}dir2" "$bin/xvs" run -c config/lab-pair-backup.yaml --control "$bsock" 2>/tmp/xvs-demo-backup.log &
backup_pid=$!

# Wait (at most 10 s) until the director behind socket $1 is VRRP $2.
wait_vrrp() {
    for _ in $(seq 100); do
        "$bin/xvs" status --json --control "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    vrrp = json.load(sys.stdin).get("vrrp") or []
except ValueError:  # not answering yet
    sys.exit(1)
sys.exit(0 if vrrp and all(i["state"] == sys.argv[1] for i in vrrp) else 1)' "$2" && return 0
        sleep 0.1
    done
    echo "demo: the director behind $1 did not become $2" >&2
    return 1
}
wait_vrrp "$msock" master
wait_vrrp "$bsock" backup
echo "== the backup's view (xvs status, VRRP part)"
"$bin/xvs" status --control "$bsock" | sed -n '/^VRRP/,$p'

echo "== a new connection every 20 ms for 6 s; the master is killed (SIGKILL) after 2 s"
timeline=$(mktemp)
ip netns exec "${prefix}cl" python3 scripts/lab-client.py http http://198.18.0.100/ \
    --duration 6 --every 0.02 --concurrency 200 --timeout 2 --timeline "$timeline" >/dev/null &
client_pid=$!
sleep 2
killed=$(date +%s.%N)
kill -9 "$master_pid"
wait "$master_pid" 2>/dev/null || true
master_pid=
wait_vrrp "$bsock" master
wait "$client_pid"
python3 - "$timeline" "$killed" <<'PY'
import json, sys
killed = float(sys.argv[2])
reqs = [json.loads(l) for l in open(sys.argv[1])]
after = [r for r in reqs if r["t"] >= killed]
lost = [r for r in reqs if r["error"]]
at_once = [r["t"] - killed for r in after if not r["error"] and r["d"] < 0.5]
print(f"client: {len(reqs)} requests, {len(lost)} lost; {len(after)} started after the kill")
if at_once:
    print(f"new connections answered at once again {min(at_once) * 1000:.0f} ms after the kill "
          f"(until then their SYNs waited for TCP's 1 s retransmit, and were answered)")
PY
rm -f "$timeline"
echo "== the new master (xvs status, VRRP part)"
"$bin/xvs" status --control "$bsock" | sed -n '/^VRRP/,$p'
