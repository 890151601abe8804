// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
//
// shoal-decap: XDP decapsulation of IPv4-in-IPv4 (IP protocol 4) for shoal's TUN forwarding
// mode, so that Linux real servers need no ipip kernel module (see DESIGN.md, "Forwarding
// modes: TUN").
//
// For every frame on the interface:
//   Ethernet [+ one 802.1Q tag] + IPv4 with protocol 4, well formed
//       -> the outer IPv4 header is removed (the Ethernet header, and the VLAN tag if any,
//          are moved forward over it), and the inner IPv4 packet goes on to the kernel stack
//          (XDP_PASS), counted as "decapsulated". The EtherType stays 0x0800. The inner
//          packet is not modified: its IP and L4 checksums are correct end to end.
//   Ethernet [+ VLAN] + IPv4 protocol 4 that is malformed (outer header or inner packet
//          truncated, inner version not 4, inner IHL < 5, lengths inconsistent)
//       -> XDP_DROP, counted as "malformed".
//   IPIP whose outer header is a fragment -> XDP_PASS untouched (the kernel reassembles and,
//          without an ipip module, drops it), counted as "passed".
//   anything else -> XDP_PASS untouched, counted as "passed".
//
// Any outer destination is accepted: the real server decapsulates whatever IPIP reaches it.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Counter indexes; the loader (shoal_decap.cc) uses the same order and names.
enum {
    SHOAL_DECAP_DECAPSULATED = 0,
    SHOAL_DECAP_PASSED = 1,
    SHOAL_DECAP_MALFORMED = 2,
    SHOAL_DECAP_NR_COUNTERS = 3,
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, SHOAL_DECAP_NR_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} decap_counters SEC(".maps");

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif

// Ethernet header with an optional 802.1Q tag, as saved and restored around the head move.
struct l2_hdr {
    __u8 dst[ETH_ALEN];
    __u8 src[ETH_ALEN];
    __be16 proto;      // 0x0800, or 0x8100 when tagged
    __be16 vlan_tci;   // only when tagged
    __be16 vlan_proto; // only when tagged (0x0800)
};

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

static __always_inline int count(__u32 idx, int verdict)
{
    __u64 *c = bpf_map_lookup_elem(&decap_counters, &idx);
    if (c)
        *c += 1; // per-CPU slot: no atomic needed
    return verdict;
}

SEC("xdp")
int shoal_decap(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;

    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return count(SHOAL_DECAP_PASSED, XDP_PASS);

    __u32 l2_len = sizeof(struct ethhdr);
    __be16 proto = eth->h_proto;
    if (proto == bpf_htons(ETH_P_8021Q)) {
        // one tag: TCI + inner EtherType
        if (data + sizeof(struct ethhdr) + 4 > data_end)
            return count(SHOAL_DECAP_PASSED, XDP_PASS);
        proto = *(__be16 *)(data + sizeof(struct ethhdr) + 2);
        l2_len += 4;
    }
    if (proto != bpf_htons(ETH_P_IP))
        return count(SHOAL_DECAP_PASSED, XDP_PASS);

    struct iphdr *outer = data + l2_len;
    if ((void *)(outer + 1) > data_end)
        return count(SHOAL_DECAP_PASSED, XDP_PASS); // truncated IPv4: the kernel's business
    if (outer->protocol != IPPROTO_IPIP)
        return count(SHOAL_DECAP_PASSED, XDP_PASS);

    // From here on it is IPIP: anything that can't be decapsulated cleanly is dropped.
    if (outer->version != 4 || outer->ihl < 5)
        return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
    if (outer->frag_off & bpf_htons(IP_MF | IP_OFFSET))
        return count(SHOAL_DECAP_PASSED, XDP_PASS);

    __u32 outer_hlen = outer->ihl * 4; // 20..60
    __u32 outer_tot = bpf_ntohs(outer->tot_len);
    // The outer datagram must hold its header plus at least an inner IPv4 header, and must
    // be all there (Ethernet padding after it is fine).
    if (outer_tot < outer_hlen + sizeof(struct iphdr))
        return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
    if ((void *)outer + outer_tot > data_end)
        return count(SHOAL_DECAP_MALFORMED, XDP_DROP);

    struct iphdr *inner = (void *)outer + outer_hlen;
    if ((void *)(inner + 1) > data_end)
        return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
    if (inner->version != 4 || inner->ihl < 5)
        return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
    __u32 inner_tot = bpf_ntohs(inner->tot_len);
    if (inner_tot < (__u32)inner->ihl * 4 || inner_tot > outer_tot - outer_hlen)
        return count(SHOAL_DECAP_MALFORMED, XDP_DROP);

    // Save the L2 header, drop the outer IPv4 header from the front, write the L2 header
    // back in front of the inner packet.
    struct l2_hdr l2 = {};
    if (l2_len == sizeof(struct ethhdr)) {
        __builtin_memcpy(&l2, data, sizeof(struct ethhdr));
    } else {
        if (data + sizeof(struct l2_hdr) > data_end)
            return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
        __builtin_memcpy(&l2, data, sizeof(struct l2_hdr));
    }

    if (bpf_xdp_adjust_head(ctx, (int)outer_hlen))
        return count(SHOAL_DECAP_MALFORMED, XDP_DROP);

    data = (void *)(long)ctx->data;
    data_end = (void *)(long)ctx->data_end;
    if (l2_len == sizeof(struct ethhdr)) {
        if (data + sizeof(struct ethhdr) > data_end)
            return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
        __builtin_memcpy(data, &l2, sizeof(struct ethhdr));
    } else {
        if (data + sizeof(struct l2_hdr) > data_end)
            return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
        __builtin_memcpy(data, &l2, sizeof(struct l2_hdr));
    }
    return count(SHOAL_DECAP_DECAPSULATED, XDP_PASS);
}

// Dual licensed; the kernel is told "GPL" (GPL-compatible) so no helper is off limits.
char _license[] SEC("license") = "GPL";
