// Frames the control plane answers or originates: ARP replies, requests and gratuitous
// announcements; ICMP echo replies; ICMP errors (fragmentation needed, time exceeded). Pure
// functions over byte buffers, so they are tested without an EAL.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <optional>

#include "dataplane/packet.h"

namespace shoal::cp {

inline constexpr uint16_t kArpFrameLen = 60;  // 42 bytes padded to the Ethernet minimum

// The fields of an ARP packet that matter here (addresses in network order).
struct ArpInfo {
  uint16_t op = 0;  // 1 request, 2 reply
  rte_ether_addr sender_mac{};
  uint32_t sender_ip = 0;
  uint32_t target_ip = 0;
};

std::optional<ArpInfo> read_arp(const uint8_t* frame, const dp::ParsedPacket& p);

// Writes a kArpFrameLen-byte ARP frame into `out`. A request goes to broadcast; a
// gratuitous announcement is a request for our own address (sender = target = ip).
void write_arp_request(uint8_t* out, const rte_ether_addr& our_mac, uint32_t our_ip,
                       uint32_t target_ip);
void write_arp_reply(uint8_t* out, const rte_ether_addr& our_mac, uint32_t our_ip,
                     const rte_ether_addr& to_mac, uint32_t to_ip);

// Turns an ICMP echo request (frame of `len` bytes, parsed as `p`) into its reply in place;
// false if it is not an echo request.
bool make_echo_reply(uint8_t* frame, uint32_t len, const dp::ParsedPacket& p);

// Builds an ICMP error about the IPv4 packet `orig` (parsed as `p`) back to its sender, from
// `our_ip`: Ethernet addresses swapped, the original header and up to 548 bytes of it quoted
// (RFC 1812 4.3.2.3: as much as fits in 576 bytes). Returns the frame length written to
// `out` (which must hold 14 + 576 bytes), or 0 when `orig` is itself an ICMP error, which no
// error may answer (RFC 1122 3.2.2).
uint16_t write_icmp_error(uint8_t* out, const uint8_t* orig, const dp::ParsedPacket& p,
                          uint32_t our_ip, uint8_t type, uint8_t code, uint16_t next_hop_mtu);

inline constexpr uint16_t kIcmpErrorMaxFrame = 14 + 576;

}  // namespace shoal::cp
