/* xvs decap: the receiving half of TUN forwarding on a real server whose
 * kernel has no ipip/ip6_tunnel module.
 *
 * The director encapsulates client packets in IPv4 (protocol 4, RFC 2003)
 * or IPv6 (next header 41, RFC 2473); 4-in-6 and 6-in-4 are handled the
 * same way. When the INNER destination is a configured VIP (maps vip4 /
 * vip6; the VIP sits on the real server's loopback), this program strips
 * the outer IP header with bpf_xdp_adjust_head, moves the Ethernet header
 * (and up to two VLAN tags) forward over it, rewrites the innermost
 * ethertype to the inner family and returns XDP_PASS: the kernel stack then
 * receives the inner packet as if it had arrived unencapsulated, and the
 * real server answers the client directly (LVS TUN semantics).
 *
 * Everything else passes untouched: other protocols, tunnelled packets for
 * addresses that are not VIPs, fragmented outer IPv4 packets (reassembly
 * needs the stack) and outer IPv6 packets with extension headers.
 *
 * The inner packet is not modified, so its checksums stay valid.
 */
#include "common.h"

#define XVS_IPPROTO_IPIP 4
#define XVS_IPPROTO_IPV6 41

/* Counter indices; mirrored in src/decap.rs. */
enum {
	XVS_CNT_DECAPSULATED = 0,
	XVS_CNT_PASSED = 1,
	XVS_CNT_MAX = 2,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} vip4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u8[16]);
	__type(value, __u8);
} vip6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XVS_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Returns the inner ethertype if the packet at `inner` is an IPv4/IPv6
 * header (as announced by `inner_proto`) whose destination is a VIP, else
 * 0. */
static __always_inline __be16 inner_vip(void *inner, void *data_end,
					__u8 inner_proto)
{
	if (inner_proto == XVS_IPPROTO_IPIP) {
		struct iphdr *ip = inner;
		if ((void *)(ip + 1) > data_end || ip->version != 4)
			return 0;
		__u32 daddr = ip->daddr;
		return bpf_map_lookup_elem(&vip4, &daddr) ? bpf_htons(ETH_P_IP)
							   : 0;
	}
	if (inner_proto == XVS_IPPROTO_IPV6) {
		struct ipv6hdr *ip6 = inner;
		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return 0;
		__u8 daddr[16];
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		return bpf_map_lookup_elem(&vip6, daddr) ? bpf_htons(ETH_P_IPV6)
							 : 0;
	}
	return 0;
}

/* Largest L2 header we move: Ethernet plus two VLAN tags. */
#define XVS_L2_MAX (ETH_HLEN + 2 * sizeof(struct xvs_vlan_hdr))

/* Write the saved L2 header at the (new) start of the frame. The length is
 * one of three constants so the verifier sees fixed-size stores. */
static __always_inline int put_l2(void *data, void *data_end, const __u8 *l2,
				  __u32 len, __be16 inner_type)
{
	if (data + XVS_L2_MAX > data_end)
		return -1;
	if (len == ETH_HLEN)
		__builtin_memcpy(data, l2, ETH_HLEN);
	else if (len == ETH_HLEN + 4)
		__builtin_memcpy(data, l2, ETH_HLEN + 4);
	else if (len == ETH_HLEN + 8)
		__builtin_memcpy(data, l2, ETH_HLEN + 8);
	else
		return -1;
	/* The innermost ethertype is the last two bytes of the L2 header.
	 * The empty asm keeps clang from folding the -2 into the store's
	 * fixed offset: the verifier rejects a negative fixed packet offset
	 * even when the variable part makes it positive. */
	__u32 off = len - 2;
	asm volatile("" : "+r"(off));
	if (off > XVS_L2_MAX - 2)
		return -1;
	__be16 *type = data + off;
	if ((void *)(type + 1) > data_end)
		return -1;
	*type = inner_type;
	return 0;
}

SEC("xdp")
int xvs_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xvs_l2 l2;
	__u32 outer_len = 0;
	__be16 inner_type = 0;

	if (xvs_parse_l2(data, data_end, &l2) < 0)
		goto pass;

	if (*l2.proto_at == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l2.l3;
		if ((void *)(ip + 1) > data_end || ip->version != 4 ||
		    ip->ihl < 5)
			goto pass;
		/* MF set or a fragment offset: the stack must reassemble. */
		if (ip->frag_off & bpf_htons(0x3FFF))
			goto pass;
		outer_len = ip->ihl * 4;
		inner_type = inner_vip(l2.l3 + outer_len, data_end,
				       ip->protocol);
	} else if (*l2.proto_at == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l2.l3;
		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			goto pass;
		outer_len = sizeof(*ip6);
		inner_type = inner_vip(ip6 + 1, data_end, ip6->nexthdr);
	}
	if (!inner_type)
		goto pass;

	/* Save the L2 header before the head moves over it. */
	__u8 saved[XVS_L2_MAX];
	if (data + XVS_L2_MAX > data_end)
		goto pass;
	__builtin_memcpy(saved, data, XVS_L2_MAX);
	__u32 l2_len = l2.len;

	if (bpf_xdp_adjust_head(ctx, (int)outer_len))
		goto pass;
	/* adjust_head invalidates every packet pointer: reload. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (put_l2(data, data_end, saved, l2_len, inner_type) < 0) {
		/* Cannot happen for a frame that parsed above; the head has
		 * moved, so the frame is no longer valid for the stack. */
		return XDP_DROP;
	}
	XVS_COUNT(counters, XVS_CNT_DECAPSULATED);
	return XDP_PASS;

pass:
	XVS_COUNT(counters, XVS_CNT_PASSED);
	return XDP_PASS;
}

/* The project licence; the program uses no GPL-only helpers. */
char _license[] SEC("license") = "MIT OR Apache-2.0";
