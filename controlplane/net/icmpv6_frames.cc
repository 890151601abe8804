#include "net/icmpv6_frames.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <cstring>

#include "dataplane/bytes.h"
#include "net/frame_headers.h"
#include "net/neighbour_discovery.h"

namespace shoal::cp {
namespace {

constexpr uint8_t kReplyHopLimit = 64;  // what Linux sends its own packets with
constexpr uint32_t kIcmpv6HeaderLen = 8;
constexpr uint8_t kFirstInformational = 128;  // types below are errors (RFC 4443 §2.1)

uint16_t write_icmpv6_error(uint8_t* out, const uint8_t* orig, const dp::ParsedPacket& p,
                            const rte_ether_addr& our_mac, const dp::Ipv6Address& our_ip,
                            uint8_t type, uint8_t code, uint32_t param) {
  constexpr uint32_t kMaxQuote = kIpv6MinMtu - kIpv6HeaderLen - kIcmpv6HeaderLen;
  if (!may_answer_with_icmpv6_error(orig, p, type)) return 0;
  const uint8_t* orig_ip = orig + p.l3_offset;
  const auto quoted = static_cast<uint16_t>(std::min<uint32_t>(p.l3_end - p.l3_offset, kMaxQuote));
  const auto* orig_eth = reinterpret_cast<const rte_ether_hdr*>(orig);
  const dp::Ipv6Address to = ipv6_src(orig_ip);
  const auto icmp_len = static_cast<uint16_t>(kIcmpv6HeaderLen + quoted);
  uint8_t* ip = write_eth(out, orig_eth->src_addr, our_mac, RTE_ETHER_TYPE_IPV6);
  uint8_t* icmp = write_ipv6(ip, {.src = our_ip,
                                  .dst = to,
                                  .next_header = dp::kIpProtoIcmpv6,
                                  .hop_limit = kReplyHopLimit,
                                  .payload_len = icmp_len});
  icmp[0] = type;
  icmp[1] = code;
  icmp[2] = icmp[3] = 0;
  dp::store(icmp + 4, rte_cpu_to_be_32(param));
  std::memcpy(icmp + kIcmpv6HeaderLen, orig_ip, quoted);
  dp::store(icmp + 2, icmpv6_checksum(our_ip, to, icmp, icmp_len));
  return static_cast<uint16_t>(icmp + icmp_len - out);
}

}  // namespace

uint32_t make_echo6_reply(uint8_t* frame, uint32_t len, const dp::ParsedPacket& p) {
  if (p.l3 != dp::L3::ipv6 || p.l4_proto != dp::kIpProtoIcmpv6 || !p.has_l4 ||
      p.icmp_type != kIcmpv6EchoRequest || p.is_fragment || p.l3_end > len)
    return 0;
  uint8_t* ip = frame + p.l3_offset;
  const dp::Ipv6Address from = ipv6_src(ip);
  const dp::Ipv6Address to = ipv6_dst(ip);
  const auto icmp_len = static_cast<uint16_t>(p.l3_end - p.l4_offset);
  // A request damaged on the way is not answered: the reply's new checksum would hide it.
  if (is_multicast(to) || icmpv6_checksum(from, to, frame + p.l4_offset, icmp_len) != 0) return 0;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  std::swap(eth->src_addr, eth->dst_addr);
  const auto traffic_class = static_cast<uint8_t>(ip[0] << 4 | ip[1] >> 4);
  uint8_t* icmp = ip + kIpv6HeaderLen;
  std::memmove(icmp, frame + p.l4_offset, icmp_len);
  write_ipv6(ip, {.src = to,
                  .dst = from,
                  .next_header = dp::kIpProtoIcmpv6,
                  .hop_limit = kReplyHopLimit,
                  .payload_len = icmp_len,
                  .traffic_class = traffic_class});
  icmp[0] = kIcmpv6EchoReply;
  icmp[2] = icmp[3] = 0;
  dp::store(icmp + 2, icmpv6_checksum(to, from, icmp, icmp_len));
  return static_cast<uint32_t>(icmp + icmp_len - frame);
}

bool may_answer_with_icmpv6_error(const uint8_t* frame, const dp::ParsedPacket& p, uint8_t type) {
  if (p.l3 != dp::L3::ipv6) return false;
  if (p.l4_proto == dp::kIpProtoIcmpv6 && p.has_l4 &&
      (p.icmp_type < kFirstInformational || p.icmp_type == kIcmpv6Redirect))
    return false;
  const uint8_t* ip = frame + p.l3_offset;
  const dp::Ipv6Address src = ipv6_src(ip);
  if (is_unspecified(src) || is_multicast(src)) return false;
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  const bool to_group =
      is_multicast(ipv6_dst(ip)) || rte_is_multicast_ether_addr(&eth->dst_addr);  // or broadcast
  return !to_group || type == kIcmpv6PacketTooBig;
}

uint16_t write_packet_too_big(uint8_t* out, const uint8_t* orig, const dp::ParsedPacket& p,
                              const rte_ether_addr& our_mac, const dp::Ipv6Address& our_ip,
                              uint32_t mtu) {
  return write_icmpv6_error(out, orig, p, our_mac, our_ip, kIcmpv6PacketTooBig, 0, mtu);
}

uint16_t write_hop_limit_exceeded(uint8_t* out, const uint8_t* orig, const dp::ParsedPacket& p,
                                  const rte_ether_addr& our_mac, const dp::Ipv6Address& our_ip) {
  return write_icmpv6_error(out, orig, p, our_mac, our_ip, kIcmpv6TimeExceeded, 0, 0);
}

}  // namespace shoal::cp
