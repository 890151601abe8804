// The frames workers hand to the control loop, by the reason they give: ARP (answered,
// learned, and passed on to the kernel's exception path), traffic to our own addresses,
// ICMP errors this director owes a sender, on-demand resolution of NAT clients, VRRP
// advertisements and connection sync datagrams.
#include <rte_arp.h>

#include "daemon/director.h"
#include "dataplane/forward.h"
#include "dataplane/packet.h"
#include "net/control_frames.h"

namespace shoal::cp {
namespace {

constexpr uint32_t kResolveIntervalMs = 200;  // between on-demand ARP requests for a client
constexpr std::size_t kMaxResolving = 4096;   // bounds the on-demand table under a scan

}  // namespace

bool Director::is_port_address(uint32_t ip) const {
  for (const PortConfig& p : config_.ports)
    for (const Ipv4Prefix& a : p.addresses)
      if (a.address == ip) return true;
  return false;
}

bool Director::owns_address(uint32_t ip) const {
  if (vrrp_ && vrrp_->carries(IpAddress::from_v4(ip))) return vrrp_->holds(IpAddress::from_v4(ip));
  if (is_port_address(ip)) return true;
  for (const ServiceConfig& s : config_.services)
    if (s.vip == IpAddress::from_v4(ip)) return true;
  return false;
}

// The worker stored why it handed the frame over in an mbuf field (see dp::Worker::dispatch).
void Director::handle_control_frame(rte_mbuf* m) {
  auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
  uint32_t len = rte_pktmbuf_data_len(m);
  const int index = ports_.index_of(m->port);
  dp::ParsedPacket p;
  if (index < 0 || !dp::parse_packet(frame, len, p).ok) {
    rte_pktmbuf_free(m);
    return;
  }
  const auto port = static_cast<std::size_t>(index);
  if (p.l3 == dp::L3::ipv6) return handle_control_frame6(m, p, port);
  const PortConfig& pc = config_.ports[port];
  const uint32_t our_ip = pc.addresses.empty() ? 0 : pc.addresses.front().address;
  switch (dp::control_reason(m)) {
    case dp::ControlReason::arp:
      if (auto arp = read_arp(frame, p)) {
        // Learn who is on our subnets: clients of NAT services announce themselves this way.
        if (config_.on_link_port(arp->sender_ip) == index &&
            neighbours_.learn(arp->sender_ip, m->port, arp->sender_mac, dp::now_ms()))
          snapshot_dirty_ = true;
        if (arp->op == RTE_ARP_OP_REQUEST && owns_address(arp->target_ip) &&
            arp->sender_ip != arp->target_ip) {
          uint8_t reply[kArpFrameLen];
          write_arp_reply(reply, vrrp_->arp_mac(IpAddress::from_v4(arp->target_ip), port),
                          arp->target_ip,
                          arp->sender_mac, arp->sender_ip);
          ports_.send(port, reply, kArpFrameLen);
        }
        // The kernel learns its neighbours from the same ARP (it answers none itself).
        if (ExceptionPath* tap = ports_.tap(port)) {
          tap->to_kernel(m);
          return;
        }
      }
      break;
    case dp::ControlReason::local:
      // The port's own addresses belong to the kernel when it has an exception path; VIPs
      // (pinged) are always answered here: the kernel does not hold them.
      if (ExceptionPath* tap = ports_.tap(port); tap && is_port_address(p.dst_ip)) {
        tap->to_kernel(m);
        return;
      }
      if (make_echo_reply(frame, len, p) && ports_.send(port, m)) return;
      break;
    case dp::ControlReason::frag_needed: {
      uint8_t out[kIcmpErrorMaxFrame];
      uint16_t n = write_icmp_error(out, frame, p, our_ip, 3, 4,
                                    static_cast<uint16_t>(pc.mtu - dp::kIpipOverhead));
      if (n != 0) ports_.send(port, out, n);
      break;
    }
    case dp::ControlReason::ttl_exceeded: {
      uint8_t out[kIcmpErrorMaxFrame];
      uint16_t n = write_icmp_error(out, frame, p, our_ip, 11, 0, 0);
      if (n != 0) ports_.send(port, out, n);
      break;
    }
    case dp::ControlReason::resolve: {
      // A NAT reply to an on-link client ARP has not resolved: ask, at most every 200 ms per
      // address. The sender retransmits; the answer is learned like any ARP.
      uint32_t now = dp::now_ms();
      auto [it, fresh] = resolving_.try_emplace(p.dst_ip, now);
      if (fresh || now - it->second >= kResolveIntervalMs) {
        it->second = now;
        uint8_t request[kArpFrameLen];
        write_arp_request(request, ports_.handle(port).mac, our_ip, p.dst_ip);
        ports_.send(port, request, kArpFrameLen);
      }
      if (resolving_.size() > kMaxResolving) resolving_.clear();
      break;
    }
    case dp::ControlReason::vrrp:
      vrrp_->receive(port, frame + p.l3_offset, len - p.l3_offset, vrrp_now_ms());
      flush_vrrp();
      break;
    case dp::ControlReason::icmp_error:
      break;  // ICMP errors about no flow of ours are for nobody
    case dp::ControlReason::neighbour_discovery:
      break;  // IPv6 only: handle_control_frame6
    case dp::ControlReason::sync:
      if (sync_ && port == config_.connection_sync.port && p.has_l4) {
        const uint16_t payload = p.l4_offset + 8;  // past the UDP header
        if (p.l3_end >= payload)
          sync_->receive(frame + payload, p.l3_end - payload, p.src_ip, p.ttl, dp::now_ms());
      }
      break;
  }
  rte_pktmbuf_free(m);
}

}  // namespace shoal::cp
