// Connection sync's messages (see connection_sync.h): UDP datagrams a director sends to its
// peers' multicast group, with IPv4 TTL 255 so that a receiver knows the sender is on its
// link (as VRRP does). Pure functions over byte buffers, tested without an EAL.
//
// Version 1, network byte order throughout:
//   header, 16 bytes: magic "SHSY" (u32), version (u8), type (u8), sync id (u8), reserved (u8),
//                     entry count (u16), reserved (u16), sequence number (u32)
//   entry, 24 bytes:  op (u8: 1 upsert, 2 remove), protocol (u8), flow state (u8: 1 syn,
//                     2 closing, 3 udp, 4 established), reserved (u8), client address (u32),
//                     VIP (u32), client port (u16), VIP port (u16), backend address (u32),
//                     backend port (u16), reserved (u16)
//   persistence entry, 24 bytes (type 4): protocol (u8), reserved (3 × u8), client address
//                     under the service's netmask (u32), VIP (u32), VIP port (u16), backend
//                     port (u16), backend address (u32), milliseconds the entry has left (u32)
//   wide entry, 60 bytes (type 5): op, protocol, flow state, reserved (u8 each), client
//                     address (16 bytes), VIP (16 bytes), client port (u16), VIP port (u16),
//                     backend address (16 bytes), backend port (u16), reserved (u16).
//                     Any flow the 24-byte entry cannot carry: an IPv6 flow, or an IPv4 flow
//                     to an IPv6 real server (TUN, 4-in-6). An IPv4 address is written in its
//                     IPv4-mapped form, ::ffff:a.b.c.d (RFC 4291 §2.5.5.2); the client and the
//                     VIP are of one family.
//   wide persistence entry, 48 bytes (type 6): protocol (u8), reserved (3 × u8), client (u32:
//                     for an IPv6 service its prefix folded as its workers fold it, see
//                     dp::client_address6), VIP (16 bytes), VIP port (u16), backend port (u16),
//                     backend address (16 bytes), milliseconds left (u32). The persistence
//                     entry of an IPv6 service, or of an IPv4 one with IPv6 real servers.
// A datagram is exactly its header and `count` entries. A flow names its backend by address
// and port, not by this director's backend id: peers number their backends themselves.
// The messages themselves travel over IPv4 whatever the flows' family.
#pragma once

#include <rte_ether.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "config/address.h"
#include "dataplane/flow_table.h"
#include "dataplane/reasons.h"

namespace shoal::cp {

inline constexpr uint32_t kSyncMagic = 0x53485359;  // "SHSY"
inline constexpr uint8_t kSyncVersion = 1;
inline constexpr uint8_t kSyncTtl = 255;
inline constexpr std::size_t kSyncHeaderLen = 16;
inline constexpr std::size_t kSyncEntryLen = 24;
inline constexpr std::size_t kSyncWideEntryLen = 60;
inline constexpr std::size_t kSyncWidePersistenceLen = 48;
inline constexpr std::size_t kSyncFrameOverhead = RTE_ETHER_HDR_LEN + 20 + 8;  // Eth, IPv4, UDP
// Entries of `entry_len` bytes that fit a datagram on a port with this MTU.
constexpr std::size_t sync_entries_per_message(uint16_t mtu, std::size_t entry_len = kSyncEntryLen) {
  return (mtu - 20 - 8 - kSyncHeaderLen) / entry_len;
}

enum class SyncMessageType : uint8_t {
  flows = 1,         // entries follow
  pull_request = 2,  // a director that (re)joined asks for every flow of the VIPs peers hold
  pull_done = 3,     // the answer to a pull is complete
  persistence = 4,   // persistence entries follow
  wide_flows = 5,    // wide entries follow (IPv6 flows, and IPv4 ones to IPv6 real servers)
  wide_persistence = 6,  // wide persistence entries follow
};
// The length of one entry of a message of this type (0: it carries none).
std::size_t sync_entry_len(SyncMessageType type);
enum class SyncOp : uint8_t { upsert = 1, remove = 2 };

// Why a datagram (or one of its entries) was not taken.
#define SHOAL_SYNC_DROP_REASONS(X)                                                       \
  X(truncated, "shorter than a sync header")                                            \
  X(bad_magic, "not a shoal sync message")                                              \
  X(bad_version, "sync message version is not 1")                                       \
  X(bad_type, "unknown sync message type")                                              \
  X(bad_length, "datagram length disagrees with its entry count")                       \
  X(wrong_id, "sync id of another cluster")                                             \
  X(bad_ttl, "IPv4 TTL is not 255: sent from off-link")                                 \
  X(bad_entry, "entry with an unknown op, protocol, state or address family")           \
  X(unknown_service, "entry for a VIP, port and protocol no synced service has here")  \
  X(unknown_backend, "entry pinned to a backend its service does not have here")        \
  X(owned_service, "entry for a VIP this director holds: its own flows are the truth")  \
  X(not_persistent, "persistence entry for a service without persistence here")         \
  X(table_full, "the synced flow table is full")

SHOAL_REASON_ENUM(SyncDrop, kSyncDropCount, SHOAL_SYNC_DROP_REASONS);

struct SyncHeader {
  SyncMessageType type = SyncMessageType::flows;
  uint8_t sync_id = 0;
  uint16_t count = 0;
  uint32_t sequence = 0;
};

// A flow of either family. Ports in network byte order, as in packets and FlowKey.
struct SyncEntry {
  SyncOp op = SyncOp::upsert;
  uint8_t proto = 6;
  dp::FlowState state = dp::FlowState::established;
  IpAddress client;
  IpAddress vip;
  uint16_t client_port = 0;
  uint16_t vip_port = 0;
  IpAddress backend;
  uint16_t backend_port = 0;

  // The 24-byte entry carries it: IPv4 from end to end.
  bool narrow() const { return client.is_v4() && backend.is_v4(); }
  bool ipv6() const { return client.is_v6(); }
  dp::FlowKey key() const { return {client.v4(), vip.v4(), client_port, vip_port, proto}; }
  dp::FlowKey6 key6() const { return {client.v6(), vip.v6(), client_port, vip_port, proto}; }
};

// A persistence entry (dataplane/scheduler/persistence.h) of a synced service.
struct SyncPersistence {
  uint8_t proto = 6;
  uint32_t client = 0;  // under the service's netmask (IPv6: folded, see message's comment)
  IpAddress vip;
  uint16_t vip_port = 0;
  IpAddress backend;
  uint16_t backend_port = 0;
  uint32_t left_ms = 0;  // host order: how long the entry lives on without a new connection

  // The 24-byte entry carries it.
  bool narrow() const { return vip.is_v4() && backend.is_v4(); }
};

void write_sync_header(uint8_t* out, const SyncHeader& h);
// The 24-byte entry of a narrow() one.
void write_sync_entry(uint8_t* out, const SyncEntry& e);
// The 60-byte entry, for any.
void write_sync_wide_entry(uint8_t* out, const SyncEntry& e);

// Checks a received UDP payload of `len` bytes. On success fills `header`; the entries start
// at payload + kSyncHeaderLen.
std::optional<SyncDrop> parse_sync_header(const uint8_t* payload, std::size_t len,
                                          uint8_t expected_id, SyncHeader& header);
// One entry, or nullopt for bad_entry.
std::optional<SyncEntry> read_sync_entry(const uint8_t* in);
// One wide entry, or nullopt for bad_entry (also: a client and a VIP of different families).
std::optional<SyncEntry> read_sync_wide_entry(const uint8_t* in);
// The 24-byte entry of a narrow() one, and the 48-byte entry for any.
void write_sync_persistence(uint8_t* out, const SyncPersistence& p);
void write_sync_wide_persistence(uint8_t* out, const SyncPersistence& p);
// One persistence entry, or nullopt for bad_entry (an unknown protocol, no time left).
std::optional<SyncPersistence> read_sync_persistence(const uint8_t* in);
std::optional<SyncPersistence> read_sync_wide_persistence(const uint8_t* in);

// Wraps a sync payload already written at out + kSyncFrameOverhead in Ethernet (to the
// group's multicast MAC), IPv4 (TTL 255) and UDP headers. Returns the frame length.
std::size_t finish_sync_frame(uint8_t* out, std::size_t payload_len, const rte_ether_addr& src_mac,
                              uint32_t src_ip, uint32_t group, uint16_t udp_port);

}  // namespace shoal::cp
