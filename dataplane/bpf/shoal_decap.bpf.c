// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
//
// shoal-decap: XDP decapsulation for shoal's TUN forwarding mode, so that Linux real servers
// need no ipip or ip6tnl kernel module (see DESIGN.md, "Forwarding modes: TUN"). It takes off
// the three encapsulations the director writes: IPv4-in-IPv4 (IPv4 protocol 4), IPv6-in-IPv6
// (IPv6 next header 41) and IPv4-in-IPv6 (IPv6 next header 4), the last two as
// dataplane/forward_ipv6.cc's encap_ipv6 writes them: a bare 40-byte outer IPv6 header.
//
// For every frame on the interface:
//   Ethernet [+ one 802.1Q tag] + IPv4 with protocol 4, or IPv6 with next header 41 or 4,
//   well formed
//       -> the outer header is removed (the Ethernet header, and the VLAN tag if any, are
//          moved forward over it), the EtherType becomes the inner packet's (0x0800 or
//          0x86DD), and the inner packet goes on to the kernel stack (XDP_PASS), counted as
//          "decapsulated" under its kind (4in4, 6in6, 4in6). The inner packet is not
//          modified: its checksums are correct end to end, and its TTL or hop limit is left
//          as the director sent it.
//   the same, malformed (outer header or inner packet truncated, outer IPv6 version not 6,
//          inner version not the one the outer header announces, inner IPv4 IHL < 5, lengths
//          inconsistent)
//       -> XDP_DROP, counted as "malformed".
//   IPIP whose outer header is a fragment -> XDP_PASS untouched (the kernel reassembles and,
//          without an ipip module, drops it), counted as "passed". An outer IPv6 header
//          followed by extension headers (a fragment header among them) is not taken for a
//          tunnel either: its next header is not 41 or 4, so it passes untouched the same way;
//          the director never sends one.
//   a frame too short for the outer IPv4 or IPv6 header -> XDP_PASS untouched, "passed":
//          the kernel drops it as it would without this program.
//   anything else -> XDP_PASS untouched, counted as "passed".
//
// Any outer destination is accepted, IPv4 or IPv6: the real server decapsulates whatever
// tunnelled packet reaches its interface, and the kernel then routes the inner packet as its
// own (delivered when its destination, the VIP, is on lo).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Counter indexes; the loader (shoal_decap.cc) uses the same order and names. One slot per
// kind of decapsulation; the loader adds them up into "decapsulated".
enum {
    SHOAL_DECAP_DECAPSULATED_4IN4 = 0,
    SHOAL_DECAP_PASSED = 1,
    SHOAL_DECAP_MALFORMED = 2,
    SHOAL_DECAP_DECAPSULATED_6IN6 = 3,
    SHOAL_DECAP_DECAPSULATED_4IN6 = 4,
    SHOAL_DECAP_NR_COUNTERS = 5,
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
#ifndef IPPROTO_IPV6
#define IPPROTO_IPV6 41
#endif

// Ethernet header with an optional 802.1Q tag, as saved and restored around the head move.
struct l2_hdr {
    __u8 dst[ETH_ALEN];
    __u8 src[ETH_ALEN];
    __be16 proto;      // 0x0800 or 0x86DD, or 0x8100 when tagged
    __be16 vlan_tci;   // only when tagged
    __be16 vlan_proto; // only when tagged (0x0800 or 0x86DD)
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

// What an outer header's checks decided: strip `outer_hlen` bytes and give the frame
// `inner_proto` as its EtherType, counted under `counter`; or return `verdict` at once,
// counted under `counter`.
struct decision {
    int strip; // 1: decapsulate; 0: return verdict
    int verdict;
    __u32 counter;
    __u32 outer_hlen;
    __be16 inner_proto;
};

static __always_inline struct decision leave(__u32 counter, int verdict)
{
    struct decision d = {.strip = 0, .verdict = verdict, .counter = counter};
    return d;
}

// An inner IPv4 packet at `inner`, in `room` bytes of outer payload: whole and well formed?
static __always_inline int inner_ipv4_ok(struct iphdr *inner, __u32 room, void *data_end)
{
    if (room < sizeof(struct iphdr) || (void *)(inner + 1) > data_end)
        return 0;
    if (inner->version != 4 || inner->ihl < 5)
        return 0;
    __u32 inner_tot = bpf_ntohs(inner->tot_len);
    return inner_tot >= (__u32)inner->ihl * 4 && inner_tot <= room;
}

// Outer IPv4: decapsulates protocol 4 (IPv4-in-IPv4).
static __always_inline struct decision check_outer_ipv4(void *l3, void *data_end)
{
    struct iphdr *outer = l3;
    if ((void *)(outer + 1) > data_end)
        return leave(SHOAL_DECAP_PASSED, XDP_PASS); // truncated IPv4: the kernel's business
    if (outer->protocol != IPPROTO_IPIP)
        return leave(SHOAL_DECAP_PASSED, XDP_PASS);

    // From here on it is IPIP: anything that can't be decapsulated cleanly is dropped.
    if (outer->version != 4 || outer->ihl < 5)
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);
    if (outer->frag_off & bpf_htons(IP_MF | IP_OFFSET))
        return leave(SHOAL_DECAP_PASSED, XDP_PASS);

    __u32 outer_hlen = outer->ihl * 4; // 20..60
    __u32 outer_tot = bpf_ntohs(outer->tot_len);
    // The outer datagram must hold its header plus at least an inner IPv4 header, and must
    // be all there (Ethernet padding after it is fine).
    if (outer_tot < outer_hlen + sizeof(struct iphdr))
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);
    if ((void *)outer + outer_tot > data_end)
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);
    if (!inner_ipv4_ok((void *)outer + outer_hlen, outer_tot - outer_hlen, data_end))
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);

    struct decision d = {.strip = 1,
                         .counter = SHOAL_DECAP_DECAPSULATED_4IN4,
                         .outer_hlen = outer_hlen,
                         .inner_proto = bpf_htons(ETH_P_IP)};
    return d;
}

// Outer IPv6: decapsulates next header 41 (IPv6-in-IPv6) and 4 (IPv4-in-IPv6) right after
// the fixed header, as the director writes them.
static __always_inline struct decision check_outer_ipv6(void *l3, void *data_end)
{
    struct ipv6hdr *outer = l3;
    if ((void *)(outer + 1) > data_end)
        return leave(SHOAL_DECAP_PASSED, XDP_PASS); // truncated IPv6: the kernel's business
    __u8 next = outer->nexthdr;
    if (next != IPPROTO_IPV6 && next != IPPROTO_IPIP)
        return leave(SHOAL_DECAP_PASSED, XDP_PASS); // extension headers among these

    // From here on it is a tunnel: anything that can't be decapsulated cleanly is dropped.
    if (outer->version != 6)
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);
    // The payload (the inner packet) must all be there; Ethernet padding after it is fine.
    __u32 room = bpf_ntohs(outer->payload_len);
    void *inner = outer + 1;
    if (inner + room > data_end)
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);

    struct decision d = {.strip = 1, .outer_hlen = sizeof(struct ipv6hdr)};
    if (next == IPPROTO_IPIP) {
        if (!inner_ipv4_ok(inner, room, data_end))
            return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);
        d.counter = SHOAL_DECAP_DECAPSULATED_4IN6;
        d.inner_proto = bpf_htons(ETH_P_IP);
        return d;
    }
    struct ipv6hdr *inner6 = inner;
    if (room < sizeof(struct ipv6hdr) || (void *)(inner6 + 1) > data_end)
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);
    if (inner6->version != 6 ||
        bpf_ntohs(inner6->payload_len) > room - sizeof(struct ipv6hdr))
        return leave(SHOAL_DECAP_MALFORMED, XDP_DROP);
    d.counter = SHOAL_DECAP_DECAPSULATED_6IN6;
    d.inner_proto = bpf_htons(ETH_P_IPV6);
    return d;
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

    struct decision d;
    if (proto == bpf_htons(ETH_P_IP))
        d = check_outer_ipv4(data + l2_len, data_end);
    else if (proto == bpf_htons(ETH_P_IPV6))
        d = check_outer_ipv6(data + l2_len, data_end);
    else
        return count(SHOAL_DECAP_PASSED, XDP_PASS);
    if (!d.strip)
        return count(d.counter, d.verdict);

    // Save the L2 header with the inner packet's EtherType, drop the outer header from the
    // front, write the L2 header back in front of the inner packet.
    struct l2_hdr l2 = {};
    if (l2_len == sizeof(struct ethhdr)) {
        __builtin_memcpy(&l2, data, sizeof(struct ethhdr));
        l2.proto = d.inner_proto;
    } else {
        if (data + sizeof(struct l2_hdr) > data_end)
            return count(SHOAL_DECAP_MALFORMED, XDP_DROP);
        __builtin_memcpy(&l2, data, sizeof(struct l2_hdr));
        l2.vlan_proto = d.inner_proto;
    }

    if (bpf_xdp_adjust_head(ctx, (int)d.outer_hlen))
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
    return count(d.counter, XDP_PASS);
}

// Dual licensed; the kernel is told "GPL" (GPL-compatible) so no helper is off limits.
char _license[] SEC("license") = "GPL";
