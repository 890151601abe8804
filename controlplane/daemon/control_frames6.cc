// The IPv6 frames workers hand to the control loop: Neighbour Discovery (answered for our
// addresses and the VIPs we hold, learned from, and passed on to the kernel's exception path),
// echo to our addresses and VIPs, the ICMPv6 errors this director owes a sender (rate-limited,
// RFC 4443 2.4(f)), on-demand resolution of NAT66 clients, and VRRP advertisements over IPv6.
// IPv4's counterpart is control_frames.cc.
#include <algorithm>

#include "daemon/director.h"
#include "dataplane/forward_ipv6.h"
#include "dataplane/packet.h"
#include "net/icmpv6_frames.h"
#include "net/neighbour_discovery.h"

namespace shoal::cp {
namespace {

constexpr uint32_t kResolveIntervalMs = 200;  // between on-demand solicitations for a client
constexpr std::size_t kMaxResolving = 4096;   // bounds the on-demand table under a scan

}  // namespace

bool Director::is_port_address6(const dp::Ipv6Address& ip) const {
  for (std::size_t i = 0; i < config_.ports.size(); ++i) {
    if (ip == link_local_address(ports_.handle(i).mac)) return true;
    for (const Ipv6Prefix& a : config_.ports[i].addresses6)
      if (a.address == ip) return true;
  }
  return false;
}

// A VRRP address while this director is master for it; else our own addresses and the VIPs.
bool Director::owns_address6(const dp::Ipv6Address& ip) const {
  if (vrrp_ && vrrp_->carries(IpAddress::from_v6(ip))) return vrrp_->holds(IpAddress::from_v6(ip));
  if (is_port_address6(ip)) return true;
  return std::any_of(config_.services.begin(), config_.services.end(),
                     [&](const ServiceConfig& s) { return s.vip == IpAddress::from_v6(ip); });
}

// The source of what the director itself sends on a port over IPv6: its first configured
// address, else its link-local one.
dp::Ipv6Address Director::source_address6(std::size_t port) const {
  const PortConfig& pc = config_.ports[port];
  return pc.addresses6.empty() ? link_local_address(ports_.handle(port).mac)
                               : pc.addresses6.front().address;
}

void Director::handle_control_frame6(rte_mbuf* m, const dp::ParsedPacket& p, std::size_t port) {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t len = rte_pktmbuf_data_len(m);
  const rte_ether_addr our_mac = ports_.handle(port).mac;
  switch (dp::control_reason(m)) {
    case dp::ControlReason::neighbour_discovery: {
      const NdReadResult nd = read_neighbor_message(frame, p);
      if (!nd.ok) {  // router messages and malformed ND: configured routes win
        ++nd_drops_[static_cast<std::size_t>(nd.reason)];
        break;
      }
      const NeighborMessage& msg = nd.message;
      const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
      // Learn who is on our prefixes: NAT66 clients announce themselves this way.
      const dp::Ipv6Address& who =
          msg.type == kIcmpv6NeighborSolicitation ? msg.src : msg.target;
      if (msg.lladdr && !is_unspecified(who) && config_.on_link_port(who) == static_cast<int>(port) &&
          neighbours6_.learn(who, m->port, *msg.lladdr, dp::now_ms()))
        snapshot_dirty_ = true;
      if (msg.type == kIcmpv6NeighborSolicitation && owns_address6(msg.target)) {
        // Held alone (a port address, a VRRP address): override. A VIP without VRRP may be
        // answered for by every director behind ECMP: anycast, no override (RFC 4861 §7.2.4).
        const IpAddress target = IpAddress::from_v6(msg.target);
        const bool alone = is_port_address6(msg.target) || vrrp_->carries(target);
        uint8_t reply[kNdFrameLen];
        write_neighbor_advert(reply, msg, eth->src_addr, vrrp_->arp_mac(target, port), alone);
        ports_.send(port, reply, kNdFrameLen);
      }
      // The kernel resolves its own neighbours through the same messages.
      if (ExceptionPath* tap = ports_.tap(port)) {
        tap->to_kernel(m);
        return;
      }
      break;
    }
    case dp::ControlReason::local: {
      const dp::Ipv6Address dst = dp::ipv6_dst(frame, p);
      if (ExceptionPath* tap = ports_.tap(port); tap && is_port_address6(dst)) {
        tap->to_kernel(m);
        return;
      }
      const uint32_t n = make_echo6_reply(frame, len, p);
      if (n != 0) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(len - n));
        if (ports_.send(port, m)) return;
      }
      break;
    }
    case dp::ControlReason::frag_needed:
    case dp::ControlReason::ttl_exceeded: {
      if (!icmp6_errors_.allow(dp::now_ms())) break;
      uint8_t out[kIcmpv6ErrorMaxFrame];
      const dp::Ipv6Address src = source_address6(port);
      // The path MTU the client must fit in: what the tunnel leaves, never below IPv6's minimum.
      const uint32_t mtu =
          std::max<uint32_t>(dp::kIpv6MinMtu, config_.ports[port].mtu - dp::kIpv6TunnelOverhead);
      const uint16_t n = dp::control_reason(m) == dp::ControlReason::frag_needed
                             ? write_packet_too_big(out, frame, p, our_mac, src, mtu)
                             : write_hop_limit_exceeded(out, frame, p, our_mac, src);
      if (n != 0) ports_.send(port, out, n);
      break;
    }
    case dp::ControlReason::resolve: {
      const dp::Ipv6Address dst = dp::ipv6_dst(frame, p);
      const uint32_t now = dp::now_ms();
      auto [it, fresh] = resolving6_.try_emplace(dst, now);
      if (fresh || now - it->second >= kResolveIntervalMs) {
        it->second = now;
        uint8_t request[kNdFrameLen];
        write_neighbor_solicitation(request, our_mac, source_address6(port), dst);
        ports_.send(port, request, kNdFrameLen);
      }
      if (resolving6_.size() > kMaxResolving) resolving6_.clear();
      break;
    }
    case dp::ControlReason::vrrp:
      vrrp_->receive(port, frame + p.l3_offset, len - p.l3_offset, vrrp_now_ms());
      flush_vrrp();
      break;
    default:
      break;  // ICMPv6 errors about no flow of ours are for nobody
  }
  rte_pktmbuf_free(m);
}

// Solicitations for the next hops Neighbour Discovery is resolving or re-validating.
void Director::probe_neighbours6(uint32_t now, bool& lost) {
  for (const Neighbours6::Probe& probe : neighbours6_.tick(now, lost)) {
    const int index = ports_.index_of(probe.port);
    if (index < 0) continue;
    const auto port = static_cast<std::size_t>(index);
    uint8_t frame[kNdFrameLen];
    write_neighbor_solicitation(frame, ports_.handle(port).mac, source_address6(port), probe.ip);
    ports_.send(port, frame, kNdFrameLen);
  }
}

// IPv6's gratuitous ARP: an unsolicited advertisement for each address of ours on a port, so
// that neighbours replace a MAC they cached for it (a director that took over, or restarted
// with another NIC).
void Director::announce_addresses6() {
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    std::vector<dp::Ipv6Address> addresses;
    for (const Ipv6Prefix& a : config_.ports[i].addresses6) addresses.push_back(a.address);
    // VRRP addresses are announced by their instance, from its MAC, when it becomes master.
    for (const ServiceConfig& s : config_.services)
      if (s.vip.is_v6() &&
          (config_.on_link_port(s.vip) == static_cast<int>(i) || config_.on_link_port(s.vip) < 0) &&
          !(vrrp_ && vrrp_->carries(s.vip)))
        addresses.push_back(s.vip.v6());
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    for (const dp::Ipv6Address& ip : addresses) {
      uint8_t frame[kNdFrameLen];
      write_unsolicited_neighbor_advert(frame, ports_.handle(i).mac, ip);
      ports_.send(i, frame, kNdFrameLen);
    }
  }
}

}  // namespace shoal::cp
