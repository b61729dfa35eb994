/* xvs steering program: attached to every interface the director forwards
 * on. It redirects to the AF_XDP socket of the receiving queue only what
 * xvs owns and passes everything else to the kernel, so the director's own
 * SSH, health-check and routing traffic keeps working.
 *
 * Ours:
 *  - IPv4/IPv6 whose destination is a VIP or a FullNAT local address
 *    (maps local4/local6);
 *  - NAT replies: TCP/UDP/SCTP whose source <address, port, protocol> is a
 *    NAT real server (maps nat4/nat6; port 0 stands for every port), and ICMP/ICMPv6 *errors* whose source
 *    address is a NAT real server (maps natsrc4/natsrc6), so xvs can
 *    translate the packet they quote (RFC 792, RFC 4443 §2.1; RFC 5508
 *    asks a NAT to do so);
 *  - ARP requests whose target is a VIP or local address, and ICMPv6
 *    neighbour solicitations (RFC 4861 §4.3, type 135) whose target is one;
 *  - VRRP (IP protocol 112, RFC 5798) when settings[0] is set, and UDP
 *    to the connection-sync port settings[1] when non-zero.
 *
 * Never ours, although a rule above would match: packets to the director's
 * own addresses (bit 4 in local4/local6) from a NAT real server's service
 * port, or ICMP errors to them from a real server. The director's own
 * connections to a real server (health checks over kernel sockets) get
 * their replies from that very port. ARP requests and neighbour
 * solicitations for those addresses are the kernel's too.
 *
 * Limits, on purpose: IPv6 extension headers are not walked (a packet whose
 * first next-header is not TCP/UDP/SCTP/ICMPv6/VRRP is only matched by
 * destination), and non-first IPv4 fragments carry no ports, so a NAT reply
 * fragment is matched only by destination like any other packet.
 *
 * The redirect falls back to XDP_PASS when no socket is registered for the
 * queue (bpf_redirect_map flags, since Linux 5.x), so attaching before the
 * sockets exist never black-holes traffic the kernel could answer.
 */
#include "common.h"

#define XVS_IPPROTO_VRRP 112
#define XVS_IPPROTO_SCTP 132
#define XVS_ICMPV6 58
#define XVS_ND_NEIGHBOR_SOLICIT 135

/* Value bits of local4/local6; mirrored in src/rules.rs. */
#define XVS_LOCAL_VIP 1
#define XVS_LOCAL_LIP 2
#define XVS_LOCAL_SELF 4
#define XVS_LOCAL_OURS (XVS_LOCAL_VIP | XVS_LOCAL_LIP)

/* Counter indices; mirrored in src/steer.rs. */
enum {
	XVS_CNT_STEERED = 0, /* matched a rule, redirect attempted */
	XVS_CNT_PASSED = 1, /* not ours, XDP_PASS */
	XVS_CNT_NO_SOCKET = 2, /* ours, but no socket on this queue */
	XVS_CNT_MAX = 3,
};

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

static __always_inline int match_ipv4(void *l3, void *data_end)
{
	struct iphdr *ip = l3;
	if ((void *)(ip + 1) > data_end)
		return 0;
	if (ip->version != 4 || ip->ihl < 5)
		return 0;

	__u32 daddr = ip->daddr;
	__u8 *kind = bpf_map_lookup_elem(&local4, &daddr);
	if (kind && (*kind & XVS_LOCAL_OURS))
		return 1;
	int to_self = kind && (*kind & XVS_LOCAL_SELF);

	__u8 proto = ip->protocol;
	if (proto == XVS_IPPROTO_VRRP && setting(XVS_SET_VRRP))
		return 1;

	/* Non-first fragments have no L4 header to match. */
	if (ip->frag_off & bpf_htons(0x1FFF))
		return 0;

	void *l4 = l3 + ip->ihl * 4;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == XVS_IPPROTO_SCTP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > data_end)
			return 0;
		if (is_sync(proto, ports))
			return 1;
		if (to_self)
			return 0;
		struct nat4_key key = {
			.addr = ip->saddr,
			.port = ports[0],
			.proto = proto,
			.pad = 0,
		};
		if (bpf_map_lookup_elem(&nat4, &key))
			return 1;
		/* A port-0 (all ports) NAT service is stored with port 0. */
		key.port = 0;
		return bpf_map_lookup_elem(&nat4, &key) != NULL;
	}
	if (proto == IPPROTO_ICMP) {
		__u8 *type = l4;
		if ((void *)(type + 1) > data_end)
			return 0;
		if (!icmp4_is_error(*type) || to_self)
			return 0;
		__u32 saddr = ip->saddr;
		return bpf_map_lookup_elem(&natsrc4, &saddr) != NULL;
	}
	return 0;
}

static __always_inline int match_ipv6(void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	if ((void *)(ip6 + 1) > data_end)
		return 0;
	if (ip6->version != 6)
		return 0;

	__u8 addr[16];
	__builtin_memcpy(addr, &ip6->daddr, 16);
	__u8 *kind = bpf_map_lookup_elem(&local6, addr);
	if (kind && (*kind & XVS_LOCAL_OURS))
		return 1;
	int to_self = kind && (*kind & XVS_LOCAL_SELF);

	__u8 proto = ip6->nexthdr;
	if (proto == XVS_IPPROTO_VRRP && setting(XVS_SET_VRRP))
		return 1;

	void *l4 = ip6 + 1;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == XVS_IPPROTO_SCTP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > data_end)
			return 0;
		if (is_sync(proto, ports))
			return 1;
		if (to_self)
			return 0;
		struct nat6_key key = {};
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		key.port = ports[0];
		key.proto = proto;
		if (bpf_map_lookup_elem(&nat6, &key))
			return 1;
		key.port = 0;
		return bpf_map_lookup_elem(&nat6, &key) != NULL;
	}
	if (proto == XVS_ICMPV6) {
		__u8 *icmp = l4;
		/* type, code, checksum, reserved, then the NS target. */
		if ((void *)(icmp + 1) > data_end)
			return 0;
		if (*icmp == XVS_ND_NEIGHBOR_SOLICIT) {
			if ((void *)(icmp + 24) > data_end)
				return 0;
			__builtin_memcpy(addr, icmp + 8, 16);
			__u8 *target = bpf_map_lookup_elem(&local6, addr);
			return target && (*target & XVS_LOCAL_OURS);
		}
		/* RFC 4443 §2.1: types below 128 are errors. */
		if (*icmp < 128 && !to_self) {
			__builtin_memcpy(addr, &ip6->saddr, 16);
			return bpf_map_lookup_elem(&natsrc6, addr) != NULL;
		}
	}
	return 0;
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
		return 0;
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) ||
	    arp->hlen != 6 || arp->plen != 4 || arp->op != bpf_htons(1))
		return 0;
	__u32 tpa;
	__builtin_memcpy(&tpa, arp->tpa, 4);
	__u8 *kind = bpf_map_lookup_elem(&local4, &tpa);
	return kind && (*kind & XVS_LOCAL_OURS);
}

SEC("xdp")
int xvs_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xvs_l2 l2;
	int ours = 0;

	if (xvs_parse_l2(data, data_end, &l2) == 0) {
		__be16 proto = *l2.proto_at;
		if (proto == bpf_htons(ETH_P_IP))
			ours = match_ipv4(l2.l3, data_end);
		else if (proto == bpf_htons(ETH_P_IPV6))
			ours = match_ipv6(l2.l3, data_end);
		else if (proto == bpf_htons(ETH_P_ARP))
			ours = match_arp(l2.l3, data_end);
	}

	if (!ours) {
		XVS_COUNT(counters, XVS_CNT_PASSED);
		return XDP_PASS;
	}
	XVS_COUNT(counters, XVS_CNT_STEERED);
	long action = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	if (action != XDP_REDIRECT)
		XVS_COUNT(counters, XVS_CNT_NO_SOCKET);
	return (int)action;
}

/* The project licence; the program uses no GPL-only helpers. */
char _license[] SEC("license") = "MIT OR Apache-2.0";
