#include "net/neighbour_discovery.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <cstring>

#include "dataplane/bytes.h"
#include "net/frame_headers.h"

namespace shoal::cp {
namespace {

constexpr uint32_t kNdMessageLen = 24;  // type, code, checksum, flags, target
constexpr uint32_t kOptionUnit = 8;     // option lengths count 8-byte units
constexpr uint8_t kOptionSourceLladdr = 1;
constexpr uint8_t kOptionTargetLladdr = 2;
constexpr uint8_t kFlagRouter = 0x80;
constexpr uint8_t kFlagSolicited = 0x40;
constexpr uint8_t kFlagOverride = 0x20;
constexpr uint32_t kRouterAdvertLen = 16;

NdReadResult refuse(NdDrop reason) {
  NdReadResult r;
  r.reason = reason;
  return r;
}

// Every NS and NA written here has the same shape; what differs is named by the caller.
struct NdFrame {
  rte_ether_addr eth_dst;
  dp::Ipv6Address src;
  dp::Ipv6Address dst;
  uint8_t type;
  uint8_t flags;
  dp::Ipv6Address target;
  uint8_t lladdr_option;  // ours: source (NS) or target (NA)
};

void write_nd_frame(uint8_t* out, const rte_ether_addr& our_mac, const NdFrame& f) {
  constexpr uint16_t kPayload = kNdMessageLen + kOptionUnit;
  static_assert(RTE_ETHER_HDR_LEN + kIpv6HeaderLen + kPayload == kNdFrameLen);
  uint8_t* ip = write_eth(out, f.eth_dst, our_mac, RTE_ETHER_TYPE_IPV6);
  uint8_t* icmp = write_ipv6(ip, {.src = f.src,
                                  .dst = f.dst,
                                  .next_header = dp::kIpProtoIcmpv6,
                                  .hop_limit = kNdHopLimit,
                                  .payload_len = kPayload});
  std::memset(icmp, 0, kPayload);
  icmp[0] = f.type;
  icmp[4] = f.flags;
  std::memcpy(icmp + 8, f.target.data(), f.target.size());
  icmp[kNdMessageLen] = f.lladdr_option;
  icmp[kNdMessageLen + 1] = 1;
  std::memcpy(icmp + kNdMessageLen + 2, our_mac.addr_bytes, RTE_ETHER_ADDR_LEN);
  dp::store(icmp + 2, icmpv6_checksum(f.src, f.dst, icmp, kPayload));
}

// Whether `p` is an ICMPv6 message of `type` whose header was parsed.
bool is_icmpv6_of_type(const dp::ParsedPacket& p, uint8_t type) {
  return p.l3 == dp::L3::ipv6 && p.l4_proto == dp::kIpProtoIcmpv6 && p.has_l4 &&
         p.icmp_type == type;
}

}  // namespace

SHOAL_REASON_NAMES(NdDrop, SHOAL_ND_DROP_REASONS)

bool is_unspecified(const dp::Ipv6Address& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

bool is_solicited_node(const dp::Ipv6Address& a) {
  const dp::Ipv6Address prefix = solicited_node_address(dp::Ipv6Address{});
  return std::equal(a.begin(), a.begin() + 13, prefix.begin());
}

dp::Ipv6Address solicited_node_address(const dp::Ipv6Address& a) {
  return {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, a[13], a[14], a[15]};
}

rte_ether_addr multicast_mac(const dp::Ipv6Address& group) {
  return rte_ether_addr{{0x33, 0x33, group[12], group[13], group[14], group[15]}};
}

rte_ether_addr solicited_node_mac(const dp::Ipv6Address& a) {
  return multicast_mac(solicited_node_address(a));
}

dp::Ipv6Address link_local_address(const rte_ether_addr& mac) {
  const uint8_t* m = mac.addr_bytes;
  // The universal/local bit is inverted, and ff:fe goes between the two halves of the MAC.
  return {0xfe, 0x80, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe,
          m[3], m[4], m[5]};
}

NdReadResult read_neighbor_message(const uint8_t* frame, const dp::ParsedPacket& p) {
  const bool ns = is_icmpv6_of_type(p, kIcmpv6NeighborSolicitation);
  if (!ns && !is_icmpv6_of_type(p, kIcmpv6NeighborAdvertisement))
    return refuse(NdDrop::not_neighbor_message);
  if (p.is_fragment) return refuse(NdDrop::fragmented);
  if (p.ttl != kNdHopLimit) return refuse(NdDrop::hop_limit_not_255);
  if (p.icmp_code != 0) return refuse(NdDrop::bad_code);
  const auto len = static_cast<uint32_t>(p.l3_end - p.l4_offset);
  if (len < kNdMessageLen) return refuse(NdDrop::too_short);

  NdReadResult r;
  NeighborMessage& m = r.message;
  const uint8_t* ip = frame + p.l3_offset;
  const uint8_t* icmp = frame + p.l4_offset;
  m.type = p.icmp_type;
  m.src = ipv6_src(ip);
  m.dst = ipv6_dst(ip);
  if (icmpv6_checksum(m.src, m.dst, icmp, len) != 0) return refuse(NdDrop::bad_checksum);
  std::memcpy(m.target.data(), icmp + 8, m.target.size());
  if (is_multicast(m.target)) return refuse(NdDrop::multicast_target);

  const uint8_t wanted = ns ? kOptionSourceLladdr : kOptionTargetLladdr;
  for (uint32_t off = kNdMessageLen; off < len;) {
    if (len - off < 2) return refuse(NdDrop::option_past_end);
    const uint32_t option_len = icmp[off + 1] * kOptionUnit;
    if (option_len == 0) return refuse(NdDrop::option_zero_length);
    if (option_len > len - off) return refuse(NdDrop::option_past_end);
    if (icmp[off] == wanted) {
      if (option_len != kOptionUnit) return refuse(NdDrop::bad_lladdr_option);
      rte_ether_addr mac;
      std::memcpy(mac.addr_bytes, icmp + off + 2, RTE_ETHER_ADDR_LEN);
      m.lladdr = mac;
    }
    off += option_len;
  }

  if (ns) {
    if (is_unspecified(m.src)) {
      if (!is_solicited_node(m.dst)) return refuse(NdDrop::dad_not_to_solicited_node);
      if (m.lladdr) return refuse(NdDrop::dad_with_source_lladdr);
    }
  } else {
    m.router = (icmp[4] & kFlagRouter) != 0;
    m.solicited = (icmp[4] & kFlagSolicited) != 0;
    m.override_flag = (icmp[4] & kFlagOverride) != 0;
    if (is_multicast(m.dst) && m.solicited) return refuse(NdDrop::solicited_to_multicast);
  }
  r.ok = true;
  return r;
}

void write_neighbor_solicitation(uint8_t* out, const rte_ether_addr& our_mac,
                                 const dp::Ipv6Address& our_ip, const dp::Ipv6Address& target) {
  write_nd_frame(out, our_mac,
                 {.eth_dst = solicited_node_mac(target),
                  .src = our_ip,
                  .dst = solicited_node_address(target),
                  .type = kIcmpv6NeighborSolicitation,
                  .flags = 0,
                  .target = target,
                  .lladdr_option = kOptionSourceLladdr});
}

void write_neighbor_probe(uint8_t* out, const rte_ether_addr& our_mac,
                          const dp::Ipv6Address& our_ip, const dp::Ipv6Address& target,
                          const rte_ether_addr& target_mac) {
  write_nd_frame(out, our_mac,
                 {.eth_dst = target_mac,
                  .src = our_ip,
                  .dst = target,
                  .type = kIcmpv6NeighborSolicitation,
                  .flags = 0,
                  .target = target,
                  .lladdr_option = kOptionSourceLladdr});
}

void write_neighbor_advert(uint8_t* out, const NeighborMessage& ns,
                           const rte_ether_addr& ns_eth_src, const rte_ether_addr& our_mac,
                           bool override_flag) {
  const uint8_t override_bit = override_flag ? kFlagOverride : 0;
  const bool dad = is_unspecified(ns.src);
  write_nd_frame(out, our_mac,
                 {.eth_dst = dad ? multicast_mac(kAllNodes) : ns.lladdr.value_or(ns_eth_src),
                  .src = ns.target,
                  .dst = dad ? kAllNodes : ns.src,
                  .type = kIcmpv6NeighborAdvertisement,
                  .flags = static_cast<uint8_t>((dad ? 0 : kFlagSolicited) | override_bit),
                  .target = ns.target,
                  .lladdr_option = kOptionTargetLladdr});
}

void write_unsolicited_neighbor_advert(uint8_t* out, const rte_ether_addr& our_mac,
                                       const dp::Ipv6Address& address) {
  write_nd_frame(out, our_mac,
                 {.eth_dst = multicast_mac(kAllNodes),
                  .src = address,
                  .dst = kAllNodes,
                  .type = kIcmpv6NeighborAdvertisement,
                  .flags = kFlagOverride,
                  .target = address,
                  .lladdr_option = kOptionTargetLladdr});
}

std::optional<RouterAdvert> read_router_advert(const uint8_t* frame, const dp::ParsedPacket& p) {
  if (!is_icmpv6_of_type(p, kIcmpv6RouterAdvertisement) ||
      static_cast<uint32_t>(p.l3_end - p.l4_offset) < kRouterAdvertLen)
    return std::nullopt;
  const uint8_t* icmp = frame + p.l4_offset;
  return RouterAdvert{.router = ipv6_src(frame + p.l3_offset),
                      .lifetime_s = rte_be_to_cpu_16(dp::load<uint16_t>(icmp + 6))};
}

}  // namespace shoal::cp
