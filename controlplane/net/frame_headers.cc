#include "net/frame_headers.h"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstring>

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

}  // namespace shoal::cp
