/* xvs steering program: attached to every interface the director forwards
 * on. It redirects to the AF_XDP socket of the receiving queue only what
 * xvs owns and passes everything else to the kernel, so the director's own
 * SSH, health-check and routing traffic keeps working. Every frame is
 * counted exactly once, under the reason of the decision (enum xvs_reason
 * below; `xvs metrics` exports them as xvs_steer_frames_total).
 *
 * Steered to xvs (reason in brackets):
 *  - [to_vip] IPv4/IPv6 whose destination is a VIP or a FullNAT local
 *    address (maps local4/local6);
 *  - [malformed] a frame whose ethertype says IPv4/IPv6 and whose
 *    destination field names a VIP or local address, but whose header is
 *    invalid: wrong version nibble, IPv4 IHL below 5. It is addressed to
 *    us, so the kernel must not be the one to drop it silently: the worker
 *    drops it and counts it by its wire reason (xvs_malformed_packets_total).
 *    Other inconsistencies of a frame to a VIP (total length, truncated
 *    L4 header, bad checksums) are left to the worker the same way, under
 *    to_vip, since the program never reads those fields;
 *  - [nat_reply] NAT replies: TCP/UDP/SCTP whose source <address, port,
 *    protocol> is a NAT real server (maps nat4/nat6; port 0 stands for
 *    every port), found behind an IPv6 Fragment header too (RFC 8200
 *    §4.5) for a first fragment; and non-first TCP/UDP fragments (IPv4
 *    offset != 0, IPv6 Fragment header with offset != 0) whose source
 *    address is a NAT real server (maps natsrc4/natsrc6): they carry no
 *    ports, so the worker matches them to the reply their first fragment
 *    began through its fragment map; and [icmp_error] ICMP/ICMPv6 *errors* whose source
 *    address is a NAT real server (maps natsrc4/natsrc6), so xvs can
 *    translate the packet they quote (RFC 792, RFC 4443 §2.1; RFC 5508
 *    asks a NAT to do so);
 *  - [arp] ARP requests whose target is a VIP or local address, and [nd]
 *    ICMPv6 neighbour solicitations (RFC 4861 §4.3, type 135) whose target
 *    is one;
 *  - [vrrp] VRRP (IP protocol 112, RFC 5798) when settings[0] is set, and
 *    [sync] UDP to the connection-sync port settings[1] when non-zero.
 *
 * Passed to the kernel, and why:
 *  - [own_address] to one of the director's own addresses (bit 4 in
 *    local4/local6) and not claimed above; in particular packets from a
 *    NAT real server's service port and ICMP errors from a real server,
 *    which answer the director's own connections (health checks over
 *    kernel sockets), and ARP requests and neighbour solicitations for
 *    those addresses;
 *  - [not_ours] nothing above matches (a destination that is none of
 *    ours, not a NAT reply, ARP/ND for someone else);
 *  - [unknown_ethertype] neither IPv4, IPv6 nor ARP;
 *  - [ethernet_truncated], [vlan_truncated] shorter than the Ethernet
 *    header or a VLAN tag; [too_many_vlan_tags] more than two stacked
 *    tags (802.1ad QinQ) — the worker's parser refuses those too;
 *  - [arp_truncated] shorter than an Ethernet/IPv4 ARP packet,
 *    [arp_unsupported] another hardware/protocol type or length,
 *    [arp_not_request] an ARP reply or other operation;
 *  - [ipv4_truncated], [ipv6_truncated] the IP header ends before the
 *    destination address the decision needs;
 *  - [ipv4_bad_version], [ipv4_bad_ihl], [ipv6_bad_version] an invalid IP
 *    header whose destination field is not ours;
 *  - [fragment] a non-first fragment not to a VIP or local address and
 *    not from a NAT real server (or not TCP/UDP);
 *  - [l4_truncated] the TCP/UDP/SCTP ports, the ICMP type or the
 *    neighbour-solicitation target a rule needs is cut off.
 *
 * The destination MAC address is not read: a NIC only delivers what is
 * addressed to it (or broadcast), and the worker checks the rest.
 *
 * Limits, on purpose: IPv6 extension headers other than a leading
 * Fragment header are not walked (a packet whose first next-header is not
 * Fragment/TCP/UDP/SCTP/ICMPv6/VRRP is only matched by destination).
 *
 * The redirect falls back to XDP_PASS when no socket is registered for the
 * queue (bpf_redirect_map flags, since Linux 5.x), so attaching before the
 * sockets exist never black-holes traffic the kernel could answer; such a
 * frame is counted as no_socket under its steering reason instead.
 */
#include "common.h"

#define XVS_IPPROTO_VRRP 112
#define XVS_IPPROTO_SCTP 132
#define XVS_ICMPV6 58
#define XVS_IPPROTO_FRAGMENT 44
#define XVS_ND_NEIGHBOR_SOLICIT 135

/* Value bits of local4/local6; mirrored in src/rules.rs. */
#define XVS_LOCAL_VIP 1
#define XVS_LOCAL_LIP 2
#define XVS_LOCAL_SELF 4
#define XVS_LOCAL_OURS (XVS_LOCAL_VIP | XVS_LOCAL_LIP)

/* Why a frame was steered or passed; mirrored, in this order, by
 * REASONS in src/steer.rs (a unit test there reads this enum). Reasons
 * below XVS_R_CLAIMED are steering reasons, the rest passing reasons.
 * counters[r] counts frames steered (r < XVS_R_CLAIMED) or passed for
 * reason r; counters[XVS_R_MAX + r] frames claimed for reason r whose
 * queue had no socket, which went to the kernel instead. */
enum xvs_reason {
	XVS_R_TO_VIP,
	XVS_R_MALFORMED,
	XVS_R_NAT_REPLY,
	XVS_R_ICMP_ERROR,
	XVS_R_ARP,
	XVS_R_ND,
	XVS_R_VRRP,
	XVS_R_SYNC,
	XVS_R_CLAIMED,
	XVS_R_OWN_ADDRESS = XVS_R_CLAIMED,
	XVS_R_NOT_OURS,
	XVS_R_UNKNOWN_ETHERTYPE,
	XVS_R_ETHERNET_TRUNCATED,
	XVS_R_VLAN_TRUNCATED,
	XVS_R_TOO_MANY_VLAN_TAGS,
	XVS_R_ARP_TRUNCATED,
	XVS_R_ARP_UNSUPPORTED,
	XVS_R_ARP_NOT_REQUEST,
	XVS_R_IPV4_TRUNCATED,
	XVS_R_IPV4_BAD_VERSION,
	XVS_R_IPV4_BAD_IHL,
	XVS_R_IPV6_TRUNCATED,
	XVS_R_IPV6_BAD_VERSION,
	XVS_R_FRAGMENT,
	XVS_R_L4_TRUNCATED,
	XVS_R_MAX,
};

#define XVS_CNT_MAX (XVS_R_MAX + XVS_R_CLAIMED)

/* settings[] indices; mirrored in src/steer.rs. */
enum {
	XVS_SET_VRRP = 0,
	XVS_SET_SYNC_PORT = 1,
	XVS_SET_MAX = 2,
};

/* Keys of the NAT real-server maps: address, port (network order),
 * protocol and one zero pad byte. Encoded by src/rules.rs. */
struct nat4_key {
	__u32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct nat6_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* VIPs, local addresses and the director's own addresses; the value is a
 * bitmask of XVS_LOCAL_*. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} local4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u8[16]);
	__type(value, __u8);
} local6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nat4_key);
	__type(value, __u8);
} nat4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nat6_key);
	__type(value, __u8);
} nat6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} natsrc4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u8[16]);
	__type(value, __u8);
} natsrc6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XVS_SET_MAX);
	__type(key, __u32);
	__type(value, __u32);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XVS_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline __u32 setting(__u32 index)
{
	__u32 *v = bpf_map_lookup_elem(&settings, &index);
	return v ? *v : 0;
}

/* True for UDP to the configured sync port. `ports` points at the L4
 * source/destination port pair, already bounds-checked. */
static __always_inline int is_sync(__u8 proto, __be16 *ports)
{
	if (proto != IPPROTO_UDP)
		return 0;
	__u32 port = setting(XVS_SET_SYNC_PORT);
	return port != 0 && ports[1] == bpf_htons((__u16)port);
}

/* RFC 792: destination unreachable (3), source quench (4), time exceeded
 * (11) and parameter problem (12) quote the offending datagram. */
static __always_inline int icmp4_is_error(__u8 type)
{
	return type == 3 || type == 4 || type == 11 || type == 12;
}

/* RFC 8200 §4.5: the IPv6 Fragment header. */
struct xvs_frag6 {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-octet units << 3, M in bit 0 */
	__be32 ident;
};

/* A non-first fragment not to the director itself: a NAT real server's
 * (TCP/UDP, the protocols the worker translates) is claimed as part of a
 * possible NAT reply; `from_nat` is its source's lookup in natsrc4/6. */
static __always_inline int later_fragment(int to_self, __u8 proto, void *from_nat)
{
	if (to_self)
		return XVS_R_OWN_ADDRESS;
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && from_nat)
		return XVS_R_NAT_REPLY;
	return XVS_R_FRAGMENT;
}

static __always_inline int match_ipv4(void *l3, void *data_end)
{
	struct iphdr *ip = l3;
	/* The destination is the header's last field. */
	if ((void *)(ip + 1) > data_end)
		return XVS_R_IPV4_TRUNCATED;
	int bad = ip->version != 4 ? XVS_R_IPV4_BAD_VERSION :
		  ip->ihl < 5	   ? XVS_R_IPV4_BAD_IHL :
				     0;

	__u32 daddr = ip->daddr;
	__u8 *kind = bpf_map_lookup_elem(&local4, &daddr);
	if (kind && (*kind & XVS_LOCAL_OURS))
		return bad ? XVS_R_MALFORMED : XVS_R_TO_VIP;
	if (bad)
		return bad;
	int to_self = kind && (*kind & XVS_LOCAL_SELF);

	__u8 proto = ip->protocol;
	if (proto == XVS_IPPROTO_VRRP && setting(XVS_SET_VRRP))
		return XVS_R_VRRP;

	/* Non-first fragments have no L4 header to match. */
	if (ip->frag_off & bpf_htons(0x1FFF)) {
		__u32 saddr = ip->saddr;
		return later_fragment(to_self, proto,
				      bpf_map_lookup_elem(&natsrc4, &saddr));
	}

	void *l4 = l3 + ip->ihl * 4;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == XVS_IPPROTO_SCTP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > data_end)
			return XVS_R_L4_TRUNCATED;
		if (is_sync(proto, ports))
			return XVS_R_SYNC;
		if (to_self)
			return XVS_R_OWN_ADDRESS;
		struct nat4_key key = {
			.addr = ip->saddr,
			.port = ports[0],
			.proto = proto,
			.pad = 0,
		};
		if (bpf_map_lookup_elem(&nat4, &key))
			return XVS_R_NAT_REPLY;
		/* A port-0 (all ports) NAT service is stored with port 0. */
		key.port = 0;
		return bpf_map_lookup_elem(&nat4, &key) ? XVS_R_NAT_REPLY :
							  XVS_R_NOT_OURS;
	}
	if (proto == IPPROTO_ICMP) {
		__u8 *type = l4;
		if ((void *)(type + 1) > data_end)
			return XVS_R_L4_TRUNCATED;
		if (to_self)
			return XVS_R_OWN_ADDRESS;
		if (!icmp4_is_error(*type))
			return XVS_R_NOT_OURS;
		__u32 saddr = ip->saddr;
		return bpf_map_lookup_elem(&natsrc4, &saddr) ?
			       XVS_R_ICMP_ERROR :
			       XVS_R_NOT_OURS;
	}
	return to_self ? XVS_R_OWN_ADDRESS : XVS_R_NOT_OURS;
}

static __always_inline int match_ipv6(void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	if ((void *)(ip6 + 1) > data_end)
		return XVS_R_IPV6_TRUNCATED;
	int bad = ip6->version != 6 ? XVS_R_IPV6_BAD_VERSION : 0;

	__u8 addr[16];
	__builtin_memcpy(addr, &ip6->daddr, 16);
	__u8 *kind = bpf_map_lookup_elem(&local6, addr);
	if (kind && (*kind & XVS_LOCAL_OURS))
		return bad ? XVS_R_MALFORMED : XVS_R_TO_VIP;
	if (bad)
		return bad;
	int to_self = kind && (*kind & XVS_LOCAL_SELF);

	__u8 proto = ip6->nexthdr;
	if (proto == XVS_IPPROTO_VRRP && setting(XVS_SET_VRRP))
		return XVS_R_VRRP;

	void *l4 = ip6 + 1;
	if (proto == XVS_IPPROTO_FRAGMENT) {
		struct xvs_frag6 *fh = l4;
		if ((void *)(fh + 1) > data_end)
			return XVS_R_L4_TRUNCATED;
		proto = fh->nexthdr;
		l4 = fh + 1;
		if (fh->frag_off & bpf_htons(0xFFF8)) {
			__builtin_memcpy(addr, &ip6->saddr, 16);
			return later_fragment(to_self, proto,
					      bpf_map_lookup_elem(&natsrc6, addr));
		}
		/* A first fragment: its upper-layer header follows. */
	}
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == XVS_IPPROTO_SCTP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > data_end)
			return XVS_R_L4_TRUNCATED;
		if (is_sync(proto, ports))
			return XVS_R_SYNC;
		if (to_self)
			return XVS_R_OWN_ADDRESS;
		struct nat6_key key = {};
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		key.port = ports[0];
		key.proto = proto;
		if (bpf_map_lookup_elem(&nat6, &key))
			return XVS_R_NAT_REPLY;
		key.port = 0;
		return bpf_map_lookup_elem(&nat6, &key) ? XVS_R_NAT_REPLY :
							  XVS_R_NOT_OURS;
	}
	if (proto == XVS_ICMPV6) {
		__u8 *icmp = l4;
		/* type, code, checksum, reserved, then the NS target. */
		if ((void *)(icmp + 1) > data_end)
			return XVS_R_L4_TRUNCATED;
		if (*icmp == XVS_ND_NEIGHBOR_SOLICIT) {
			if ((void *)(icmp + 24) > data_end)
				return XVS_R_L4_TRUNCATED;
			__builtin_memcpy(addr, icmp + 8, 16);
			__u8 *target = bpf_map_lookup_elem(&local6, addr);
			if (target && (*target & XVS_LOCAL_OURS))
				return XVS_R_ND;
			if (target && (*target & XVS_LOCAL_SELF))
				return XVS_R_OWN_ADDRESS;
			return to_self ? XVS_R_OWN_ADDRESS : XVS_R_NOT_OURS;
		}
		if (to_self)
			return XVS_R_OWN_ADDRESS;
		/* RFC 4443 §2.1: types below 128 are errors. */
		if (*icmp < 128) {
			__builtin_memcpy(addr, &ip6->saddr, 16);
			return bpf_map_lookup_elem(&natsrc6, addr) ?
				       XVS_R_ICMP_ERROR :
				       XVS_R_NOT_OURS;
		}
		return XVS_R_NOT_OURS;
	}
	return to_self ? XVS_R_OWN_ADDRESS : XVS_R_NOT_OURS;
}

/* RFC 826 ARP over Ethernet for IPv4. */
struct arp_eth_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

static __always_inline int match_arp(void *l3, void *data_end)
{
	struct arp_eth_ipv4 *arp = l3;
	if ((void *)(arp + 1) > data_end)
		return XVS_R_ARP_TRUNCATED;
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) ||
	    arp->hlen != 6 || arp->plen != 4)
		return XVS_R_ARP_UNSUPPORTED;
	if (arp->op != bpf_htons(1))
		return XVS_R_ARP_NOT_REQUEST;
	__u32 tpa;
	__builtin_memcpy(&tpa, arp->tpa, 4);
	__u8 *kind = bpf_map_lookup_elem(&local4, &tpa);
	if (kind && (*kind & XVS_LOCAL_OURS))
		return XVS_R_ARP;
	return kind ? XVS_R_OWN_ADDRESS : XVS_R_NOT_OURS;
}

static __always_inline int classify(void *data, void *data_end)
{
	struct xvs_l2 l2;
	int l2_status = xvs_parse_l2(data, data_end, &l2);
	if (l2_status == XVS_L2_SHORT)
		return XVS_R_ETHERNET_TRUNCATED;
	if (l2_status == XVS_L2_VLAN_SHORT)
		return XVS_R_VLAN_TRUNCATED;
	if (l2_status < 0)
		return XVS_R_TOO_MANY_VLAN_TAGS;

	__be16 proto = *l2.proto_at;
	if (proto == bpf_htons(ETH_P_IP))
		return match_ipv4(l2.l3, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return match_ipv6(l2.l3, data_end);
	if (proto == bpf_htons(ETH_P_ARP))
		return match_arp(l2.l3, data_end);
	return XVS_R_UNKNOWN_ETHERTYPE;
}

SEC("xdp")
int xvs_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	/* Bounded for the verifier: every index below is < XVS_CNT_MAX. */
	__u32 reason = (__u32)classify(data, data_end);
	if (reason >= XVS_R_MAX)
		reason = XVS_R_NOT_OURS;
	if (reason >= XVS_R_CLAIMED) {
		XVS_COUNT(counters, reason);
		return XDP_PASS;
	}
	long action = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	XVS_COUNT(counters, action == XDP_REDIRECT ? reason : XVS_R_MAX + reason);
	return (int)action;
}

/* The project licence; the program uses no GPL-only helpers. */
char _license[] SEC("license") = "MIT OR Apache-2.0";
