#include "net/frame_headers.h"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstring>

#include "dataplane/bytes.h"
#include "dataplane/checksum.h"
#include "dataplane/packet.h"

namespace shoal::cp {

uint8_t* write_eth(uint8_t* out, const rte_ether_addr& dst, const rte_ether_addr& src,
                   uint16_t ethertype) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(out);
  eth->dst_addr = dst;
  eth->src_addr = src;
  eth->ether_type = rte_cpu_to_be_16(ethertype);
  return out + RTE_ETHER_HDR_LEN;
}

uint8_t* write_ipv4(uint8_t* out, const Ipv4Fields& f) {
  static_assert(sizeof(rte_ipv4_hdr) == kIpv4HeaderLen);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(out);
  std::memset(ip, 0, kIpv4HeaderLen);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = f.tos;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(kIpv4HeaderLen + f.payload_len));
  if (f.dont_fragment) ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = f.ttl;
  ip->next_proto_id = f.proto;
  ip->src_addr = f.src;
  ip->dst_addr = f.dst;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  return out + kIpv4HeaderLen;
}

uint8_t* write_ipv6(uint8_t* out, const Ipv6Fields& f) {
  static_assert(sizeof(rte_ipv6_hdr) == kIpv6HeaderLen);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(out);
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28 | uint32_t{f.traffic_class} << RTE_IPV6_HDR_TC_SHIFT |
                                  (f.flow_label & RTE_IPV6_HDR_FL_MASK));
  ip->payload_len = rte_cpu_to_be_16(f.payload_len);
  ip->proto = f.next_header;
  ip->hop_limits = f.hop_limit;
  std::memcpy(ip->src_addr, f.src.data(), f.src.size());
  std::memcpy(ip->dst_addr, f.dst.data(), f.dst.size());
  return out + kIpv6HeaderLen;
}

uint16_t icmpv6_checksum(const dp::Ipv6Address& src, const dp::Ipv6Address& dst,
                         const uint8_t* icmp, std::size_t len) {
  uint8_t length_and_next[8] = {0, 0, 0, 0, 0, 0, 0, dp::kIpProtoIcmpv6};
  dp::store(length_and_next, rte_cpu_to_be_32(static_cast<uint32_t>(len)));
  // Each part is summed on its own and the folded sums added: every part but the message has
  // an even length, so the message's words line up as they would in one buffer.
  uint32_t sum = rte_raw_cksum(src.data(), src.size());
  sum += rte_raw_cksum(dst.data(), dst.size());
  sum += rte_raw_cksum(length_and_next, sizeof length_and_next);
  sum += rte_raw_cksum(icmp, len);
  return static_cast<uint16_t>(~dp::csum_fold(sum));
}

}  // namespace shoal::cp
