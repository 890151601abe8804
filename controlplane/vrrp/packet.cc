#include "vrrp/packet.h"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstring>

#include "dataplane/bytes.h"
#include "dataplane/checksum.h"
#include "dataplane/packet.h"
#include "net/frame_headers.h"

namespace shoal::cp {
namespace {

// One's complement sum (not complemented) of the VRRP message, with the IP pseudo-header of
// RFC 9568 §5.2.8 when `style` is v3. `ip` (IPv4 or IPv6) must hold the final addresses and
// length.
uint16_t vrrp_sum(const uint8_t* ip, const uint8_t* vrrp, std::size_t len, VrrpChecksum style) {
  uint32_t sum = rte_raw_cksum(vrrp, len);
  if (style == VrrpChecksum::v3)
    sum += (ip[0] >> 4) == 6 ? rte_ipv6_phdr_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), 0)
                             : rte_ipv4_phdr_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip), 0);
  return dp::csum_fold(sum);
}

std::size_t address_len(bool ipv6) { return ipv6 ? 16 : 4; }

VrrpParseResult dropped(VrrpDrop reason) {
  VrrpParseResult result;
  result.reason = reason;
  return result;
}

// The VRRP message after the IP header, RFC 9568 §7.1 in its order: version, type, the whole
// message present, checksum; then what cannot be acted on.
VrrpParseResult parse_message(const uint8_t* ip, const uint8_t* vrrp, std::size_t vrrp_len,
                              bool ipv6) {
  if (vrrp_len < kVrrpHeaderLen) return dropped(VrrpDrop::truncated);
  if ((vrrp[0] >> 4) != kVrrpVersion) return dropped(VrrpDrop::bad_version);
  if ((vrrp[0] & 0x0f) != kVrrpTypeAdvertisement) return dropped(VrrpDrop::bad_type);
  const std::size_t count = vrrp[3];
  if (vrrp_len != kVrrpHeaderLen + address_len(ipv6) * count) return dropped(VrrpDrop::bad_length);
  const bool v3_ok = vrrp_sum(ip, vrrp, vrrp_len, VrrpChecksum::v3) == 0xffff;
  const bool v2_ok =
      !v3_ok && !ipv6 && vrrp_sum(ip, vrrp, vrrp_len, VrrpChecksum::v2) == 0xffff;
  if (!v3_ok && !v2_ok) return dropped(VrrpDrop::bad_checksum);
  // Neither can be acted on (nothing to take over; a Master_Down_Interval of zero). RFC 9568
  // as published does not list these checks; errata reported against §5.2.5 and §7.1 add them.
  if (count == 0) return dropped(VrrpDrop::no_addresses);
  const uint16_t interval = rte_be_to_cpu_16(dp::load<uint16_t>(vrrp + 4)) & kVrrpMaxIntervalCs;
  if (interval == 0) return dropped(VrrpDrop::zero_interval);

  VrrpParseResult result;
  result.ok = true;
  VrrpReceived& r = result.received;
  r.v2_checksum = v2_ok;
  r.advert.vrid = vrrp[1];
  r.advert.priority = vrrp[2];
  r.advert.max_advert_int_cs = interval;
  r.advert.addresses.reserve(count);
  for (std::size_t k = 0; k < count; ++k) {
    const uint8_t* a = vrrp + kVrrpHeaderLen + address_len(ipv6) * k;
    if (ipv6) {
      dp::Ipv6Address bytes;
      std::memcpy(bytes.data(), a, bytes.size());
      r.advert.addresses.push_back(IpAddress::from_v6(bytes));
    } else {
      r.advert.addresses.push_back(IpAddress::from_v4(dp::load<uint32_t>(a)));
    }
  }
  return result;
}

VrrpParseResult parse_ipv4(const uint8_t* data, std::size_t len) {
  if (len < sizeof(rte_ipv4_hdr)) return dropped(VrrpDrop::truncated);
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(data);
  const std::size_t ihl = rte_ipv4_hdr_len(ip);
  if (ihl < sizeof(rte_ipv4_hdr)) return dropped(VrrpDrop::bad_ip_header);
  if (ihl > len) return dropped(VrrpDrop::truncated);
  // A header whose checksum is right sums to all ones, the checksum included.
  if (rte_raw_cksum(data, ihl) != 0xffff) return dropped(VrrpDrop::bad_ip_header);
  const std::size_t total = rte_be_to_cpu_16(ip->total_length);
  if (total < ihl) return dropped(VrrpDrop::bad_ip_header);
  if (total > len) return dropped(VrrpDrop::truncated);
  if (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
    return dropped(VrrpDrop::ip_fragment);
  if (ip->next_proto_id != dp::kIpProtoVrrp) return dropped(VrrpDrop::not_vrrp);
  if (ip->time_to_live != kVrrpTtl) return dropped(VrrpDrop::ttl_not_255);
  VrrpParseResult result = parse_message(data, data + ihl, total - ihl, false);
  if (result.ok) result.received.src = IpAddress::from_v4(ip->src_addr);
  return result;
}

VrrpParseResult parse_ipv6(const uint8_t* data, std::size_t len) {
  if (len < kVrrpIp6HeaderLen) return dropped(VrrpDrop::truncated);
  const std::size_t payload = rte_be_to_cpu_16(dp::load<uint16_t>(data + 4));
  if (kVrrpIp6HeaderLen + payload > len) return dropped(VrrpDrop::truncated);
  if (data[6] != dp::kIpProtoVrrp) return dropped(VrrpDrop::not_vrrp);
  if (data[7] != kVrrpTtl) return dropped(VrrpDrop::ttl_not_255);
  VrrpParseResult result = parse_message(data, data + kVrrpIp6HeaderLen, payload, true);
  if (result.ok) {
    dp::Ipv6Address src;
    std::memcpy(src.data(), data + 8, src.size());
    result.received.src = IpAddress::from_v6(src);
  }
  return result;
}

}  // namespace

SHOAL_REASON_NAMES(VrrpDrop, SHOAL_VRRP_DROP_REASONS)

rte_ether_addr vrrp_virtual_mac(uint8_t vrid, bool ipv6) {
  return rte_ether_addr{{0x00, 0x00, 0x5e, 0x00, static_cast<uint8_t>(ipv6 ? 0x02 : 0x01), vrid}};
}

std::size_t write_vrrp_advert(uint8_t* out, const VrrpAdvert& advert,
                              const rte_ether_addr& src_mac, const IpAddress& src,
                              VrrpChecksum checksum) {
  const bool ipv6 = src.is_v6();
  const std::size_t count = advert.addresses.size();
  const std::size_t vrrp_len = kVrrpHeaderLen + address_len(ipv6) * count;
  const std::size_t frame_len = vrrp_frame_len(count, ipv6);
  std::memset(out, 0, frame_len);

  uint8_t* l3;
  uint8_t* vrrp;
  if (ipv6) {
    l3 = write_eth(out, kVrrpGroupMac6, src_mac, RTE_ETHER_TYPE_IPV6);
    vrrp = write_ipv6(l3, {.src = src.v6(),
                           .dst = kVrrpGroup6,
                           .next_header = dp::kIpProtoVrrp,
                           .hop_limit = kVrrpTtl,
                           .payload_len = static_cast<uint16_t>(vrrp_len),
                           .traffic_class = kVrrpTos});
    checksum = VrrpChecksum::v3;
  } else {
    l3 = write_eth(out, kVrrpGroupMac, src_mac, RTE_ETHER_TYPE_IPV4);
    vrrp = write_ipv4(l3, {.src = src.v4(),
                           .dst = kVrrpGroup,
                           .proto = dp::kIpProtoVrrp,
                           .ttl = kVrrpTtl,
                           .payload_len = static_cast<uint16_t>(vrrp_len),
                           .tos = kVrrpTos});
  }
  vrrp[0] = kVrrpVersion << 4 | kVrrpTypeAdvertisement;
  vrrp[1] = advert.vrid;
  vrrp[2] = advert.priority;
  vrrp[3] = static_cast<uint8_t>(count);
  // The 4 reserved bits above the interval stay zero (RFC 9568 §5.2.6).
  dp::store(vrrp + 4, rte_cpu_to_be_16(advert.max_advert_int_cs & kVrrpMaxIntervalCs));
  for (std::size_t k = 0; k < count; ++k) {
    uint8_t* a = vrrp + kVrrpHeaderLen + address_len(ipv6) * k;
    if (ipv6)
      std::memcpy(a, advert.addresses[k].v6().data(), 16);
    else
      dp::store(a, advert.addresses[k].v4());
  }
  dp::store(vrrp + 6, static_cast<uint16_t>(~vrrp_sum(l3, vrrp, vrrp_len, checksum)));
  return frame_len;
}

VrrpParseResult parse_vrrp_advert(const uint8_t* data, std::size_t len) {
  if (len >= 1 && (data[0] >> 4) == 6) return parse_ipv6(data, len);
  if (len >= 1 && (data[0] >> 4) != 4) return dropped(VrrpDrop::bad_ip_header);
  return parse_ipv4(data, len);
}

}  // namespace shoal::cp
