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
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the system BIRD on install (/etc/bird/bird.conf); the
    # lab runs its own BIRDs and needs no other one on the machine.
    if [[ " ${missing[*]} " == *" bird2 "* ]]; then
        if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
            systemctl disable --now bird.service >/dev/null 2>&1 || true
        elif command -v service >/dev/null; then
            service bird stop >/dev/null 2>&1 || true
        fi
    fi
fi
