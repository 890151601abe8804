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

// One's complement sum (not complemented) of the VRRP message, with the IPv4 pseudo-header
// of RFC 9568 §5.2.8 when `style` is v3. `ip` must hold the final addresses and total length.
uint16_t vrrp_sum(const rte_ipv4_hdr* ip, const uint8_t* vrrp, std::size_t len,
                  VrrpChecksum style) {
  uint32_t sum = rte_raw_cksum(vrrp, len);
  if (style == VrrpChecksum::v3) sum += rte_ipv4_phdr_cksum(ip, 0);
  return dp::csum_fold(sum);
}

}  // namespace

SHOAL_REASON_NAMES(VrrpDrop, SHOAL_VRRP_DROP_REASONS)

rte_ether_addr vrrp_virtual_mac(uint8_t vrid) {
  return rte_ether_addr{{0x00, 0x00, 0x5e, 0x00, 0x01, vrid}};
}

std::size_t write_vrrp_advert(uint8_t* out, const VrrpAdvert& advert,
                              const rte_ether_addr& src_mac, uint32_t src_ip,
                              VrrpChecksum checksum) {
  const std::size_t count = advert.addresses.size();
  const std::size_t vrrp_len = kVrrpHeaderLen + 4 * count;
  const std::size_t frame_len = vrrp_frame_len(count);
  std::memset(out, 0, frame_len);

  uint8_t* l3 = write_eth(out, kVrrpGroupMac, src_mac, RTE_ETHER_TYPE_IPV4);
  uint8_t* vrrp = write_ipv4(l3, {.src = src_ip,
                                  .dst = kVrrpGroup,
                                  .proto = dp::kIpProtoVrrp,
                                  .ttl = kVrrpTtl,
                                  .payload_len = static_cast<uint16_t>(vrrp_len),
                                  .tos = kVrrpTos});
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(l3);
  vrrp[0] = kVrrpVersion << 4 | kVrrpTypeAdvertisement;
  vrrp[1] = advert.vrid;
  vrrp[2] = advert.priority;
  vrrp[3] = static_cast<uint8_t>(count);
  // The 4 reserved bits above the interval stay zero (RFC 9568 §5.2.6).
  dp::store(vrrp + 4, rte_cpu_to_be_16(advert.max_advert_int_cs & kVrrpMaxIntervalCs));
  if (count > 0) std::memcpy(vrrp + kVrrpHeaderLen, advert.addresses.data(), 4 * count);
  dp::store(vrrp + 6, static_cast<uint16_t>(~vrrp_sum(ip, vrrp, vrrp_len, checksum)));
  return frame_len;
}

VrrpParseResult parse_vrrp_advert(const uint8_t* data, std::size_t len) {
  VrrpParseResult result;
  auto drop = [&result](VrrpDrop reason) {
    result.reason = reason;
    return result;
  };

  if (len < sizeof(rte_ipv4_hdr)) return drop(VrrpDrop::truncated);
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(data);
  const std::size_t ihl = rte_ipv4_hdr_len(ip);
  if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr))
    return drop(VrrpDrop::bad_ip_header);
  if (ihl > len) return drop(VrrpDrop::truncated);
  // A header whose checksum is right sums to all ones, the checksum included.
  if (rte_raw_cksum(data, ihl) != 0xffff) return drop(VrrpDrop::bad_ip_header);
  const std::size_t total = rte_be_to_cpu_16(ip->total_length);
  if (total < ihl) return drop(VrrpDrop::bad_ip_header);
  if (total > len) return drop(VrrpDrop::truncated);
  if (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
    return drop(VrrpDrop::ip_fragment);
  if (ip->next_proto_id != dp::kIpProtoVrrp) return drop(VrrpDrop::not_vrrp);
  if (ip->time_to_live != kVrrpTtl) return drop(VrrpDrop::ttl_not_255);

  // RFC 9568 §7.1, in its order: version, type, the whole message present, checksum.
  const uint8_t* vrrp = data + ihl;
  const std::size_t vrrp_len = total - ihl;
  if (vrrp_len < kVrrpHeaderLen) return drop(VrrpDrop::truncated);
  if ((vrrp[0] >> 4) != kVrrpVersion) return drop(VrrpDrop::bad_version);
  if ((vrrp[0] & 0x0f) != kVrrpTypeAdvertisement) return drop(VrrpDrop::bad_type);
  const std::size_t count = vrrp[3];
  if (vrrp_len != kVrrpHeaderLen + 4 * count) return drop(VrrpDrop::bad_length);
  const bool v3_ok = vrrp_sum(ip, vrrp, vrrp_len, VrrpChecksum::v3) == 0xffff;
  const bool v2_ok = !v3_ok && vrrp_sum(ip, vrrp, vrrp_len, VrrpChecksum::v2) == 0xffff;
  if (!v3_ok && !v2_ok) return drop(VrrpDrop::bad_checksum);
  // Neither can be acted on (nothing to take over; a Master_Down_Interval of zero). RFC 9568
  // as published does not list these checks; errata reported against §5.2.5 and §7.1 add them.
  if (count == 0) return drop(VrrpDrop::no_addresses);
  const uint16_t interval = rte_be_to_cpu_16(dp::load<uint16_t>(vrrp + 4)) & kVrrpMaxIntervalCs;
  if (interval == 0) return drop(VrrpDrop::zero_interval);

  result.ok = true;
  VrrpReceived& r = result.received;
  r.src_ip = ip->src_addr;
  r.v2_checksum = v2_ok;
  r.advert.vrid = vrrp[1];
  r.advert.priority = vrrp[2];
  r.advert.max_advert_int_cs = interval;
  r.advert.addresses.resize(count);
  std::memcpy(r.advert.addresses.data(), vrrp + kVrrpHeaderLen, 4 * count);
  return result;
}

}  // namespace shoal::cp
