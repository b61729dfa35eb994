#!/usr/bin/env bash
# Installs what a fresh machine needs to build and test xvs: Debian packages
# for the AF_XDP/XDP toolchain and the lab (namespaces, traffic tools).
# Idempotent; safe to run repeatedly. Needs root for apt-get.
set -euo pipefail

pkgs=(
    # libbpf-sys / libxdp-sys (xsk-rs) build dependencies, clang for the XDP program
    libelf-dev clang llvm libpcap-dev pkg-config m4 zlib1g-dev
    # crates/xdp: <bpf/bpf_helpers.h> for the steering and decap programs
    libbpf-dev
    # the network-namespace lab
    iproute2 iputils-ping
    # the lab turns off veth checksum offload (AF_XDP sees raw bytes)
    ethtool
    # the lab's kernel NAT baseline (nft), its kill/sysctl calls (procps),
    # and its backends and client (scripts/lab-*.py, standard library only)
    nftables procps python3
    # VRRP interop: a real keepalived as the peer of an xvs director (only
    # its VRRP half runs: this kernel has no IPVS)
    keepalived
    # the metrics endpoint: fetched with curl, its format checked by
    # promtool (Debian's prometheus package)
    curl prometheus
    # BGP announcement of the VIPs (e2e_bgp): BIRD 2 in the lab's router
    # and directors, each with its own config and control socket
    bird2
    # bench/connrate: HAProxy in TCP mode is one of the baselines of the
    # new-connection bench (started by the bench, never as a service)
    haproxy
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages with a daemon (haproxy, keepalived, bird2) must not start
    # it: on a director a stray haproxy or keepalived would hold addresses
    # and ports, and the lab runs its own BIRDs. policy-rc.d answering 101
    # ("action forbidden") is how Debian lets an installer say so
    # (invoke-rc.d(8)); ours is removed after.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    rc=0
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    [ -n "$own_policy" ] && rm -f "$policy"
    [ "$rc" -eq 0 ] || exit "$rc"
fi

# A haproxy or bird service left running (installed before this script,
# or by hand) would answer on the lab's ports in the root namespace, peer
# with nothing and take CPU from the benches: stop it and keep it from
# starting at boot.
for svc in haproxy bird; do
    [ "$(id -u)" -eq 0 ] && [ -x /etc/init.d/$svc ] || continue
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now $svc >/dev/null 2>&1 || true
    else
        /etc/init.d/$svc stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null; then
            update-rc.d $svc disable >/dev/null 2>&1 || true
        fi
    fi
done
