#include "sync/message.h"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>

#include "dataplane/bytes.h"
#include "dataplane/packet.h"
#include "net/frame_headers.h"

namespace shoal::cp {
namespace {

constexpr uint8_t kTosNetworkControl = 0xc0;  // DSCP CS6, as VRRP advertisements

bool valid_state(uint8_t s) {
  return s >= static_cast<uint8_t>(dp::FlowState::syn) &&
         s <= static_cast<uint8_t>(dp::FlowState::established);
}

// The first bytes of an entry of either size: op, protocol and state. False if any is unknown.
bool read_entry_start(const uint8_t* in, SyncEntry& e) {
  if (in[0] != static_cast<uint8_t>(SyncOp::upsert) && in[0] != static_cast<uint8_t>(SyncOp::remove))
    return false;
  if (in[1] != dp::kIpProtoTcp && in[1] != dp::kIpProtoUdp) return false;
  if (!valid_state(in[2])) return false;
  e.op = static_cast<SyncOp>(in[0]);
  e.proto = in[1];
  e.state = static_cast<dp::FlowState>(in[2]);
  return true;
}

void write_entry_start(uint8_t* out, const SyncEntry& e) {
  out[0] = static_cast<uint8_t>(e.op);
  out[1] = e.proto;
  out[2] = static_cast<uint8_t>(e.state);
}

IpAddress read_address(const uint8_t* in) {
  dp::Ipv6Address a;
  std::memcpy(a.data(), in, a.size());
  return IpAddress::from_v6(a);  // the mapped form reads back as IPv4
}

}  // namespace

SHOAL_REASON_NAMES(SyncDrop, SHOAL_SYNC_DROP_REASONS)

void write_sync_header(uint8_t* out, const SyncHeader& h) {
  std::memset(out, 0, kSyncHeaderLen);
  dp::store(out, rte_cpu_to_be_32(kSyncMagic));
  out[4] = kSyncVersion;
  out[5] = static_cast<uint8_t>(h.type);
  out[6] = h.sync_id;
  dp::store(out + 8, rte_cpu_to_be_16(h.count));
  dp::store(out + 12, rte_cpu_to_be_32(h.sequence));
}

std::size_t sync_entry_len(SyncMessageType type) {
  switch (type) {
    case SyncMessageType::flows:
    case SyncMessageType::persistence:
      return kSyncEntryLen;
    case SyncMessageType::wide_flows:
      return kSyncWideEntryLen;
    case SyncMessageType::wide_persistence:
      return kSyncWidePersistenceLen;
    case SyncMessageType::pull_request:
    case SyncMessageType::pull_done:
      break;
  }
  return 0;
}

void write_sync_entry(uint8_t* out, const SyncEntry& e) {
  std::memset(out, 0, kSyncEntryLen);
  write_entry_start(out, e);
  dp::store(out + 4, e.client.v4());
  dp::store(out + 8, e.vip.v4());
  dp::store(out + 12, e.client_port);
  dp::store(out + 14, e.vip_port);
  dp::store(out + 16, e.backend.v4());
  dp::store(out + 20, e.backend_port);
}

void write_sync_wide_entry(uint8_t* out, const SyncEntry& e) {
  std::memset(out, 0, kSyncWideEntryLen);
  write_entry_start(out, e);
  std::memcpy(out + 4, e.client.v6().data(), 16);
  std::memcpy(out + 20, e.vip.v6().data(), 16);
  dp::store(out + 36, e.client_port);
  dp::store(out + 38, e.vip_port);
  std::memcpy(out + 40, e.backend.v6().data(), 16);
  dp::store(out + 56, e.backend_port);
}

std::optional<SyncDrop> parse_sync_header(const uint8_t* payload, std::size_t len,
                                          uint8_t expected_id, SyncHeader& header) {
  if (len < kSyncHeaderLen) return SyncDrop::truncated;
  if (rte_be_to_cpu_32(dp::load<uint32_t>(payload)) != kSyncMagic) return SyncDrop::bad_magic;
  if (payload[4] != kSyncVersion) return SyncDrop::bad_version;
  const uint8_t type = payload[5];
  if (type < static_cast<uint8_t>(SyncMessageType::flows) ||
      type > static_cast<uint8_t>(SyncMessageType::wide_persistence))
    return SyncDrop::bad_type;
  header.type = static_cast<SyncMessageType>(type);
  header.sync_id = payload[6];
  header.count = rte_be_to_cpu_16(dp::load<uint16_t>(payload + 8));
  header.sequence = rte_be_to_cpu_32(dp::load<uint32_t>(payload + 12));
  const std::size_t entry_len = sync_entry_len(header.type);
  if (entry_len == 0 && header.count != 0) return SyncDrop::bad_length;
  if (len != kSyncHeaderLen + entry_len * header.count) return SyncDrop::bad_length;
  if (header.sync_id != expected_id) return SyncDrop::wrong_id;
  return std::nullopt;
}

std::optional<SyncEntry> read_sync_entry(const uint8_t* in) {
  SyncEntry e;
  if (!read_entry_start(in, e)) return std::nullopt;
  e.client = IpAddress::from_v4(dp::load<uint32_t>(in + 4));
  e.vip = IpAddress::from_v4(dp::load<uint32_t>(in + 8));
  e.client_port = dp::load<uint16_t>(in + 12);
  e.vip_port = dp::load<uint16_t>(in + 14);
  e.backend = IpAddress::from_v4(dp::load<uint32_t>(in + 16));
  e.backend_port = dp::load<uint16_t>(in + 20);
  return e;
}

std::optional<SyncEntry> read_sync_wide_entry(const uint8_t* in) {
  SyncEntry e;
  if (!read_entry_start(in, e)) return std::nullopt;
  e.client = read_address(in + 4);
  e.vip = read_address(in + 20);
  if (e.client.is_v4() != e.vip.is_v4()) return std::nullopt;
  e.client_port = dp::load<uint16_t>(in + 36);
  e.vip_port = dp::load<uint16_t>(in + 38);
  e.backend = read_address(in + 40);
  e.backend_port = dp::load<uint16_t>(in + 56);
  return e;
}

void write_sync_persistence(uint8_t* out, const SyncPersistence& p) {
  std::memset(out, 0, kSyncEntryLen);
  out[0] = p.proto;
  dp::store(out + 4, p.client);
  dp::store(out + 8, p.vip.v4());
  dp::store(out + 12, p.vip_port);
  dp::store(out + 14, p.backend_port);
  dp::store(out + 16, p.backend.v4());
  dp::store(out + 20, rte_cpu_to_be_32(p.left_ms));
}

void write_sync_wide_persistence(uint8_t* out, const SyncPersistence& p) {
  std::memset(out, 0, kSyncWidePersistenceLen);
  out[0] = p.proto;
  dp::store(out + 4, p.client);
  std::memcpy(out + 8, p.vip.v6().data(), 16);
  dp::store(out + 24, p.vip_port);
  dp::store(out + 26, p.backend_port);
  std::memcpy(out + 28, p.backend.v6().data(), 16);
  dp::store(out + 44, rte_cpu_to_be_32(p.left_ms));
}

std::optional<SyncPersistence> read_sync_persistence(const uint8_t* in) {
  SyncPersistence p;
  if (in[0] != dp::kIpProtoTcp && in[0] != dp::kIpProtoUdp) return std::nullopt;
  p.proto = in[0];
  p.client = dp::load<uint32_t>(in + 4);
  p.vip = IpAddress::from_v4(dp::load<uint32_t>(in + 8));
  p.vip_port = dp::load<uint16_t>(in + 12);
  p.backend_port = dp::load<uint16_t>(in + 14);
  p.backend = IpAddress::from_v4(dp::load<uint32_t>(in + 16));
  p.left_ms = rte_be_to_cpu_32(dp::load<uint32_t>(in + 20));
  if (p.left_ms == 0) return std::nullopt;
  return p;
}

std::optional<SyncPersistence> read_sync_wide_persistence(const uint8_t* in) {
  SyncPersistence p;
  if (in[0] != dp::kIpProtoTcp && in[0] != dp::kIpProtoUdp) return std::nullopt;
  p.proto = in[0];
  p.client = dp::load<uint32_t>(in + 4);
  p.vip = read_address(in + 8);
  p.vip_port = dp::load<uint16_t>(in + 24);
  p.backend_port = dp::load<uint16_t>(in + 26);
  p.backend = read_address(in + 28);
  p.left_ms = rte_be_to_cpu_32(dp::load<uint32_t>(in + 44));
  if (p.left_ms == 0) return std::nullopt;
  return p;
}

std::size_t finish_sync_frame(uint8_t* out, std::size_t payload_len, const rte_ether_addr& src_mac,
                              uint32_t src_ip, uint32_t group, uint16_t udp_port) {
  // RFC 1112 §6.4: 01:00:5e and the group's low 23 bits.
  const auto* g = reinterpret_cast<const uint8_t*>(&group);
  const rte_ether_addr group_mac{{0x01, 0x00, 0x5e, static_cast<uint8_t>(g[1] & 0x7f), g[2], g[3]}};
  uint8_t* l3 = write_eth(out, group_mac, src_mac, RTE_ETHER_TYPE_IPV4);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(
      write_ipv4(l3, {.src = src_ip,
                      .dst = group,
                      .proto = dp::kIpProtoUdp,
                      .ttl = kSyncTtl,
                      .payload_len = static_cast<uint16_t>(8 + payload_len),
                      .tos = kTosNetworkControl,
                      .dont_fragment = true}));
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(l3);
  udp->src_port = rte_cpu_to_be_16(udp_port);
  udp->dst_port = rte_cpu_to_be_16(udp_port);
  udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(8 + payload_len));
  udp->dgram_cksum = 0;
  udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
  return kSyncFrameOverhead + payload_len;
}

}  // namespace shoal::cp
