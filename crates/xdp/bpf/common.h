/* Shared by steer.c and decap.c: the header layouts both programs parse
 * and the Ethernet/VLAN walk.
 *
 * Every read is preceded by a bounds check against data_end, as the BPF
 * verifier requires (a read past data_end is rejected at load time, not
 * at run time). Helpers are always_inline so the verifier sees one
 * function and keeps the packet-pointer ranges it proved.
 */
#ifndef XVS_COMMON_H
#define XVS_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* IEEE 802.1Q tag as it sits after the MAC addresses: TCI then the
 * encapsulated ethertype (the uapi headers have no such struct). */
struct xvs_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* IEEE 802.1ad S-tag ethertype. */
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* Most VLAN tags we walk (QinQ). Frames with more are passed untouched. */
#define XVS_MAX_VLAN 2

/* Where the L3 header starts and which ethertype announces it. `proto_at`
 * points at that (innermost) ethertype field, so decap can rewrite it. */
struct xvs_l2 {
	void *l3;
	__be16 *proto_at;
	__u32 len;
};

/* Why xvs_parse_l2 found no L3 header. */
#define XVS_L2_SHORT -1 /* shorter than an Ethernet header */
#define XVS_L2_VLAN_SHORT -2 /* a VLAN tag is cut short */
#define XVS_L2_VLAN_DEEP -3 /* more than XVS_MAX_VLAN tags */

/* Walk Ethernet and up to XVS_MAX_VLAN VLAN tags. Returns 0 and fills *l2
 * on success, one of the negative XVS_L2_* codes otherwise. */
static __always_inline int xvs_parse_l2(void *data, void *data_end,
					struct xvs_l2 *l2)
{
	if (data + ETH_HLEN > data_end)
		return XVS_L2_SHORT;
	/* The ethertype is the last field of the Ethernet header (struct
	 * ethhdr is packed, so point at it by offset). */
	__be16 *proto_at = data + ETH_HLEN - 2;
	void *pos = data + ETH_HLEN;

#pragma unroll
	for (int i = 0; i < XVS_MAX_VLAN; i++) {
		if (*proto_at != bpf_htons(ETH_P_8021Q) &&
		    *proto_at != bpf_htons(ETH_P_8021AD))
			break;
		struct xvs_vlan_hdr *vlan = pos;
		if ((void *)(vlan + 1) > data_end)
			return XVS_L2_VLAN_SHORT;
		proto_at = &vlan->encapsulated_proto;
		pos = vlan + 1;
	}
	if (*proto_at == bpf_htons(ETH_P_8021Q) ||
	    *proto_at == bpf_htons(ETH_P_8021AD))
		return XVS_L2_VLAN_DEEP;

	l2->l3 = pos;
	l2->proto_at = proto_at;
	l2->len = (__u32)(pos - data);
	return 0;
}

/* Per-CPU counter bump; index must be below the map's max_entries. */
#define XVS_COUNT(map, index)                                        \
	do {                                                         \
		__u32 __k = (index);                                 \
		__u64 *__v = bpf_map_lookup_elem(&(map), &__k);      \
		if (__v)                                             \
			*__v += 1;                                   \
	} while (0)

#endif
