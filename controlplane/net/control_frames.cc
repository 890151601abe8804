#include "net/control_frames.h"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "net/frame_headers.h"

namespace shoal::cp {
namespace {

constexpr uint8_t kIcmpErrorTtl = 64;

void write_arp(uint8_t* out, uint16_t op, const rte_ether_addr& eth_dst,
               const rte_ether_addr& our_mac, uint32_t our_ip, const rte_ether_addr& target_mac,
               uint32_t target_ip) {
  std::memset(out, 0, kArpFrameLen);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(write_eth(out, eth_dst, our_mac, RTE_ETHER_TYPE_ARP));
  arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = RTE_ETHER_ADDR_LEN;
  arp->arp_plen = 4;
  arp->arp_opcode = rte_cpu_to_be_16(op);
  arp->arp_data.arp_sha = our_mac;
  arp->arp_data.arp_sip = our_ip;
  arp->arp_data.arp_tha = target_mac;
  arp->arp_data.arp_tip = target_ip;
}

uint16_t checksum(const uint8_t* data, size_t len) {
  return static_cast<uint16_t>(~rte_raw_cksum(data, len));
}

}  // namespace

std::optional<ArpInfo> read_arp(const uint8_t* frame, const dp::ParsedPacket& p) {
  if (p.l3 != dp::L3::arp) return std::nullopt;
  const auto* arp = reinterpret_cast<const rte_arp_hdr*>(frame + p.l3_offset);
  ArpInfo info;
  info.op = rte_be_to_cpu_16(arp->arp_opcode);
  info.sender_mac = arp->arp_data.arp_sha;
  std::memcpy(&info.sender_ip, &arp->arp_data.arp_sip, 4);
  std::memcpy(&info.target_ip, &arp->arp_data.arp_tip, 4);
  return info;
}

void write_arp_request(uint8_t* out, const rte_ether_addr& our_mac, uint32_t our_ip,
                       uint32_t target_ip) {
  rte_ether_addr broadcast;
  std::memset(broadcast.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
  write_arp(out, RTE_ARP_OP_REQUEST, broadcast, our_mac, our_ip, rte_ether_addr{}, target_ip);
}

void write_arp_reply(uint8_t* out, const rte_ether_addr& our_mac, uint32_t our_ip,
                     const rte_ether_addr& to_mac, uint32_t to_ip) {
  write_arp(out, RTE_ARP_OP_REPLY, to_mac, our_mac, our_ip, to_mac, to_ip);
}

bool make_echo_reply(uint8_t* frame, uint32_t len, const dp::ParsedPacket& p) {
  if (p.l3 != dp::L3::ipv4 || p.l4_proto != dp::kIpProtoIcmp || !p.has_l4 ||
      p.icmp_type != RTE_IP_ICMP_ECHO_REQUEST || p.is_fragment || p.l3_end > len)
    return false;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  std::swap(eth->src_addr, eth->dst_addr);
  uint8_t* ip = frame + p.l3_offset;
  // Addresses swap (the header checksum is unchanged by a swap); TTL is renewed.
  uint8_t tmp[4];
  std::memcpy(tmp, ip + 12, 4);
  std::memcpy(ip + 12, ip + 16, 4);
  std::memcpy(ip + 16, tmp, 4);
  ip[8] = 64;
  ip[10] = ip[11] = 0;
  uint16_t ip_csum = checksum(ip, p.l4_offset - p.l3_offset);
  std::memcpy(ip + 10, &ip_csum, 2);
  uint8_t* icmp = frame + p.l4_offset;
  icmp[0] = RTE_IP_ICMP_ECHO_REPLY;
  icmp[2] = icmp[3] = 0;
  uint16_t icmp_csum = checksum(icmp, p.l3_end - p.l4_offset);
  std::memcpy(icmp + 2, &icmp_csum, 2);
  return true;
}

uint16_t write_icmp_error(uint8_t* out, const uint8_t* orig, const dp::ParsedPacket& p,
                          uint32_t our_ip, uint8_t type, uint8_t code, uint16_t next_hop_mtu) {
  constexpr uint16_t kIcmpHeader = 8, kMaxDatagram = 576;
  if (p.l4_proto == dp::kIpProtoIcmp && p.has_l4 && dp::is_icmp_error(p.icmp_type)) return 0;
  uint16_t quoted = static_cast<uint16_t>(
      std::min<uint32_t>(p.l3_end - p.l3_offset, kMaxDatagram - kIpv4HeaderLen - kIcmpHeader));
  const auto* orig_eth = reinterpret_cast<const rte_ether_hdr*>(orig);
  uint8_t* ip = write_eth(out, orig_eth->src_addr, orig_eth->dst_addr, RTE_ETHER_TYPE_IPV4);
  uint8_t* icmp = write_ipv4(ip, {.src = our_ip,
                                  .dst = p.src_ip,
                                  .proto = dp::kIpProtoIcmp,
                                  .ttl = kIcmpErrorTtl,
                                  .payload_len = static_cast<uint16_t>(kIcmpHeader + quoted)});
  std::memset(icmp, 0, kIcmpHeader);
  icmp[0] = type;
  icmp[1] = code;
  uint16_t mtu_be = rte_cpu_to_be_16(next_hop_mtu);
  std::memcpy(icmp + 6, &mtu_be, 2);  // RFC 1191: next-hop MTU in the low 16 bits
  std::memcpy(icmp + kIcmpHeader, orig + p.l3_offset, quoted);
  uint16_t csum = checksum(icmp, kIcmpHeader + quoted);
  std::memcpy(icmp + 2, &csum, 2);
  return static_cast<uint16_t>(icmp + kIcmpHeader + quoted - out);
}

}  // namespace shoal::cp
