#include "dataplane/pipeline.h"

#include <algorithm>
#include <type_traits>

#include "dataplane/forward.h"
#include "dataplane/forward_ipv6.h"
#include "dataplane/packet.h"

namespace shoal::dp {
namespace {

inline bool is_tcp_or_udp(uint8_t proto) { return proto == kIpProtoTcp || proto == kIpProtoUdp; }

inline uint8_t* frame_of(rte_mbuf* m) { return rte_pktmbuf_mtod(m, uint8_t*); }

// ICMPv6 types 133-137: router and neighbour solicitations and advertisements, redirects.
constexpr bool is_neighbour_discovery(uint8_t type) { return type >= 133 && type <= 137; }

class Burst {
 public:
  Burst(const BurstContext& ctx, Verdict* verdicts)
      : snap_(ctx.snapshot), flows_(ctx.flows), flows6_(ctx.flows6), ctr_(ctx.counters),
        scheduler_(ctx.scheduler), now_(ctx.now_ms), sync_(ctx.sync), verdicts_(verdicts) {}

  void run(rte_mbuf** pkts, uint16_t n);

 private:
  void drop(uint16_t i, DropReason r) { verdicts_[i] = Verdict::drop(r); }
  void control(uint16_t i, ControlReason r) { verdicts_[i] = Verdict::control(r); }

  bool parse(uint16_t i, rte_mbuf* m);
  void classify_rest(uint16_t i, AddressKind kind, rte_mbuf* m);
  void icmp_error_to_vip(uint16_t i, rte_mbuf* m);
  void icmp_error_to_client(uint16_t i, rte_mbuf* m);
  // Either family's flow table: FlowTable (IPv4) or FlowTable6.
  template <typename Table>
  void schedule(uint16_t i, rte_mbuf* m, Table& flows, const typename Table::Key& key,
                uint16_t service_index, uint32_t flow_hash);
  const Backend* pick_new(uint16_t i, const Service& svc, uint16_t service_index,
                          const NewFlow& flow);
  void forward(uint16_t i, rte_mbuf* m, const Service& svc, const Backend& b, uint32_t flow_hash);
  void nat_reply(uint16_t i, rte_mbuf* m, const Service& svc);
  // The backend's next hop, or nullptr when it is not resolved (the packet dropped).
  const NextHopSpec* resolved_hop(uint16_t i, const Backend& b) {
    if (b.next_hop != kNoNextHop && snap_.next_hop(b.next_hop).resolved)
      return &snap_.next_hop(b.next_hop);
    drop(i, DropReason::neighbour_unresolved);
    return nullptr;
  }
  // The rewritten frame goes to the backend's next hop, counted for the backend.
  void send_to(uint16_t i, uint8_t* frame, const NextHopSpec& nh, const Backend& b,
               uint32_t received_len) {
    rewrite_macs(frame, snap_.port(nh.port)->mac, nh.mac);
    verdicts_[i] = Verdict::transmit(nh.port);
    BackendCounters& bc = ctr_.backends[b.id];
    bc.packets.add();
    bc.bytes.add(received_len);
  }
  // TUN: the frame with `overhead` bytes taken in front of it for the outer header, its
  // Ethernet padding left out; nullptr when it cannot go (the verdict is set).
  uint8_t* tunnel_room(uint16_t i, rte_mbuf* m, TunFit fit, uint16_t overhead) {
    switch (fit) {
      case TunFit::fits:
        break;
      case TunFit::frag_needed:
        control(i, ControlReason::frag_needed);
        return nullptr;
      case TunFit::over_mtu:
        drop(i, DropReason::tun_over_mtu);
        return nullptr;
    }
    const uint16_t padding = static_cast<uint16_t>(rte_pktmbuf_data_len(m) - parsed_[i].l3_end);
    if (padding) rte_pktmbuf_trim(m, padding);
    auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, overhead));
    if (frame == nullptr) drop(i, DropReason::no_headroom);
    return frame;
  }
  // IPv6, one packet at a time (Snapshot::classify6), once run() has hashed its 5-tuple
  // (`flow_hash`, for a TCP or UDP packet) and prefetched that flow's bucket.
  void ipv6(uint16_t i, rte_mbuf* m, uint32_t flow_hash);
  static FlowKey6 flow_key6(const uint8_t* frame, const ParsedPacket& p) {
    return {ipv6_src(frame, p), ipv6_dst(frame, p), p.src_port, p.dst_port, p.l4_proto};
  }
  void icmp6_error_to_vip(uint16_t i, rte_mbuf* m);
  void icmp6_error_to_client(uint16_t i, rte_mbuf* m);
  void forward6(uint16_t i, rte_mbuf* m, const Service& svc, const Backend& b, uint32_t flow_hash);
  void nat_reply6(uint16_t i, rte_mbuf* m, const Service& svc);
  void account(uint16_t n);
  // The burst's end: its sync events go to the rings, its verdicts to the counters.
  void finish(uint16_t n);
  // Connection sync: a synced flow's news, sent to the worker's rings once per burst.
  void report(const FlowEntry& e) {
    if (sync_.events != nullptr) events_[n_events_++] = flow_event(e, e.state);
  }
  void report(const FlowEntry6& e) {
    if (sync_.events6 != nullptr) events6_[n_events6_++] = flow_event(e, e.state);
  }

  const Snapshot& snap_;
  FlowTable& flows_;
  FlowTable6* flows6_;
  WorkerCounters& ctr_;
  WorkerScheduler& scheduler_;
  uint32_t now_;
  FlowSyncContext sync_;
  Verdict* verdicts_;
  ParsedPacket parsed_[kMaxBurst];
  uint16_t ipv6_[kMaxBurst];  // the burst's IPv6 packets, by index, in arrival order
  uint16_t n_ipv6_ = 0;
  FlowEvent events_[kMaxBurst];  // at most one per packet
  uint16_t n_events_ = 0;
  FlowEvent6 events6_[kMaxBurst];
  uint16_t n_events6_ = 0;
};

bool Burst::parse(uint16_t i, rte_mbuf* m) {
  if (m->nb_segs != 1) {
    drop(i, DropReason::chained_mbuf);
    return false;
  }
  ParsedPacket& p = parsed_[i];
  ParseResult r = parse_packet(frame_of(m), rte_pktmbuf_data_len(m), p);
  if (!r.ok) {
    drop(i, r.reason);
    return false;
  }
  const PortSpec* port = snap_.port(m->port);
  if (port == nullptr) {
    drop(i, DropReason::unknown_port);
    return false;
  }
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (rte_is_unicast_ether_addr(&eth->dst_addr) && !port->accepts(eth->dst_addr)) {
    drop(i, DropReason::not_our_mac);
    return false;
  }
  if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD) {
    drop(i, DropReason::ipv4_bad_checksum);
    return false;
  }
  switch (p.l3) {
    case L3::arp:
      control(i, ControlReason::arp);
      return false;
    case L3::ipv6:
      if (flows6_ == nullptr)
        drop(i, DropReason::ipv6_no_service);
      else
        ipv6_[n_ipv6_++] = i;  // after the burst's parse: see run()
      return false;
    case L3::ipv4:
      if (p.l4_proto == kIpProtoVrrp) {
        control(i, ControlReason::vrrp);
        return false;
      }
      return true;
    case L3::none:
      break;
  }
  drop(i, DropReason::unsupported_ethertype);
  return false;
}

// Destinations that are not a service: VIPs on other ports, our own addresses, NAT replies.
void Burst::classify_rest(uint16_t i, AddressKind kind, rte_mbuf* m) {
  const ParsedPacket& p = parsed_[i];
  switch (kind) {
    case AddressKind::vip_address:
      if (p.is_fragment && is_tcp_or_udp(p.l4_proto))
        drop(i, DropReason::ipv4_fragment);
      else if (p.l4_proto == kIpProtoIcmp && p.has_l4 && !p.is_fragment &&
               is_icmp_error(p.icmp_type))
        icmp_error_to_vip(i, m);
      else if (p.l4_proto == kIpProtoIcmp)
        control(i, ControlReason::local);
      else
        drop(i, DropReason::vip_port_unknown);
      return;
    case AddressKind::local_address:
      control(i, ControlReason::local);
      return;
    case AddressKind::not_owned:
      drop(i, DropReason::vip_not_owned);
      return;
    case AddressKind::service:
    case AddressKind::unknown:
      break;
  }
  if (p.has_l4 && !p.is_fragment && p.l4_proto == kIpProtoUdp &&
      snap_.is_sync_message(p.dst_ip, p.dst_port)) {
    control(i, ControlReason::sync);
    return;
  }
  if (p.has_l4 && !p.is_fragment && is_tcp_or_udp(p.l4_proto)) {
    int svc = snap_.nat_reply_service(p.src_ip, p.src_port, p.l4_proto);
    if (svc >= 0) {
      nat_reply(i, m, snap_.service(static_cast<uint16_t>(svc)));
      return;
    }
  }
  if (p.l4_proto == kIpProtoIcmp && is_icmp_error(p.icmp_type)) {
    icmp_error_to_client(i, m);
    return;
  }
  drop(i, DropReason::not_for_us);
}

// An ICMP error to anyone else may be about a packet this director translated to a NAT
// backend, sent by the backend (a closed port) or a router on its side (a smaller MTU): the
// client must hear it from VIP:vport, or its stack matches it to no connection.
void Burst::icmp_error_to_client(uint16_t i, rte_mbuf* m) {
  const ParsedPacket& p = parsed_[i];
  QuotedFlow q;
  int svc = -1;
  if (p.has_l4 && !p.is_fragment && read_icmp_quote(frame_of(m), p, q) && is_tcp_or_udp(q.proto))
    svc = snap_.nat_reply_service(q.dst_ip, q.dst_port, q.proto);
  if (svc >= 0)
    nat_reply(i, m, snap_.service(static_cast<uint16_t>(svc)));
  else
    control(i, ControlReason::icmp_error);
}

// An ICMP error addressed to a VIP is about a packet a backend sent as the VIP (in DR and TUN
// backends answer clients directly): a router could not deliver it, or needs it smaller
// (path MTU discovery). It belongs to the backend that owns the flow it quotes.
void Burst::icmp_error_to_vip(uint16_t i, rte_mbuf* m) {
  const ParsedPacket& p = parsed_[i];
  QuotedFlow q;
  uint16_t service_index = 0;  // of the service that sent the quoted packet
  if (!read_icmp_quote(frame_of(m), p, q) || !is_tcp_or_udp(q.proto) ||
      snap_.classify(q.src_ip, q.src_port, q.proto, &service_index) != AddressKind::service) {
    control(i, ControlReason::icmp_error);
    return;
  }
  const Service& svc = snap_.service(service_index);
  // The quoted packet went service → client; the flow is its reverse.
  FlowKey key{q.dst_ip, q.src_ip, q.dst_port, q.src_port, q.proto};
  uint32_t flow_hash = FlowTable::hash(key);
  const FlowEntry* e = flows_.lookup(key, flow_hash, now_);
  const Backend* b = e != nullptr ? snap_.backend(e->backend) : nullptr;
  // Not counted as a new flow: no flow entry is made for an error.
  if (b == nullptr || !b->accepts_existing)
    b = pick_new(i, svc, service_index, {q.dst_ip, q.src_ip, flow_hash});
  if (b == nullptr) return;
  if (svc.mode == ForwardMode::nat) rewrite_icmp_quote_source(frame_of(m), p, b->ip, b->port);
  forward(i, m, svc, *b, flow_hash);
}

template <typename Table>
void Burst::schedule(uint16_t i, rte_mbuf* m, Table& flows, const typename Table::Key& key,
                     uint16_t service_index, uint32_t flow_hash) {
  constexpr bool kIpv4 = std::is_same_v<Table, FlowTable>;
  const ParsedPacket& p = parsed_[i];
  const Service& svc = snap_.service(service_index);
  auto* e = flows.lookup(key, flow_hash, now_);
  bool claimed = false;
  // A flow a peer pinned (this director has just taken over) keeps its backend. Not looked up
  // for a SYN: a connection that is only opening may start afresh on our backend — and so a
  // flood of SYNs costs no extra lookup.
  const bool opening = p.l4_proto == kIpProtoTcp &&
                       (p.tcp_flags & (kTcpSynFlag | kTcpAckFlag)) == kTcpSynFlag;
  if (const auto* synced = sync_.synced_for<Table>();
      e == nullptr && svc.sync && synced != nullptr && !opening) {
    if (std::optional<SyncedFlow> f = synced->lookup(key, flow_hash)) {
      e = flows.insert(key, flow_hash, f->backend, f->state, now_);
      ctr_.flows_claimed.add();
      claimed = true;
    }
  }
  const Backend* b = e != nullptr ? snap_.backend(e->backend) : nullptr;
  // A SYN on a closing flow opens a new connection on a reused 5-tuple: it is scheduled as a
  // new flow, or a drained (weight 0) backend would keep getting new connections.
  const bool reused = e != nullptr && opening && e->state == FlowState::closing;
  const bool keep = b != nullptr && !reused && b->accepts_existing && b->service == service_index;
  constexpr uint8_t kHandshakeFlags = kTcpSynFlag | kTcpFinFlag | kTcpRstFlag | kTcpAckFlag;
  if (e == nullptr && p.l4_proto == kIpProtoTcp && (p.tcp_flags & kHandshakeFlags) == kTcpAckFlag)
    ctr_.flows_midstream.add();
  uint32_t client = 0, destination = 0;
  if constexpr (kIpv4) {
    client = key.src_ip;
    destination = key.dst_ip;
  } else {
    client = client_address6(svc, key.src_ip);
    destination = scheduling_address(key.dst_ip);
  }
  if (!keep) {
    b = pick_new(i, svc, service_index, {client, destination, flow_hash});
    if (b == nullptr) return;
    ctr_.backends[b->id].new_flows.add();
  } else if (svc.persistence_timeout_ms != 0) {
    scheduler_.touch(svc, client, b->id, now_);
  }
  if (e == nullptr) {
    FlowState state = p.l4_proto == kIpProtoTcp ? Table::initial_tcp_state(p.tcp_flags)
                                                : FlowState::udp;
    e = flows.insert(key, flow_hash, b->id, state, now_);
    ctr_.flows_created.add();
    if (svc.sync) report(*e);
  } else {
    const uint16_t pinned = e->backend;
    const FlowState was = e->state;
    if (!keep) {
      e->backend = b->id;
      (reused ? ctr_.flows_created : ctr_.flows_rescheduled).add();
    }
    if (p.l4_proto == kIpProtoTcp)
      Table::observe_tcp(*e, p.tcp_flags, now_);
    else
      Table::observe_udp(*e, now_);
    flows.changed(*e, pinned, was);
    if (svc.sync && (claimed || e->backend != pinned || e->state != was)) report(*e);
  }
  if constexpr (kIpv4)
    forward(i, m, svc, *b, flow_hash);
  else
    forward6(i, m, svc, *b, flow_hash);
}

// A backend for a flow that has none it may keep: nullptr, the packet dropped, when no backend
// of the service takes new flows.
const Backend* Burst::pick_new(uint16_t i, const Service& svc, uint16_t service_index,
                               const NewFlow& flow) {
  if (svc.persistence_timeout_ms != 0) {
    // The client's entry, while its backend still takes new flows in this service.
    const uint16_t id = scheduler_.persisted(svc, flow.client_ip, now_);
    if (const Backend* b = snap_.new_flow_backend(id, service_index)) {
      ctr_.persistence_hits.add();
      scheduler_.touch(svc, flow.client_ip, b->id, now_);
      return b;
    }
  }
  const uint16_t id = scheduler_.pick(svc, service_index, flow);
  const Backend* b = id == kNoBackend ? nullptr : snap_.backend(id);
  if (b == nullptr) {
    drop(i, DropReason::no_backend);
    return nullptr;
  }
  if (svc.persistence_timeout_ms != 0) scheduler_.persist(svc, flow.client_ip, b->id, now_);
  return b;
}

void Burst::forward(uint16_t i, rte_mbuf* m, const Service& svc, const Backend& b,
                    uint32_t flow_hash) {
  if (b.ipv6) return forward6(i, m, svc, b, flow_hash);  // TUN 4-in-6
  const ParsedPacket& p = parsed_[i];
  const NextHopSpec* hop = resolved_hop(i, b);
  if (hop == nullptr) return;
  const NextHopSpec& nh = *hop;
  const PortSpec& out = *snap_.port(nh.port);
  const uint32_t received_len = rte_pktmbuf_pkt_len(m);
  uint8_t* frame = frame_of(m);
  switch (svc.mode) {
    case ForwardMode::dr:
      break;
    case ForwardMode::nat:
      if (p.ttl <= 1) {
        control(i, ControlReason::ttl_exceeded);
        return;
      }
      rewrite_dnat(frame, p, b.ip, b.port);
      decrement_ttl(frame, p);
      break;
    case ForwardMode::tun:
      frame = tunnel_room(i, m, tun_fit(frame, p, out.mtu), kIpipOverhead);
      if (frame == nullptr) return;
      encap_ipip(frame, p, out.local_ip, b.ip, snap_.tunnel_ttl());
      break;
  }
  send_to(i, frame, nh, b, received_len);
}

void Burst::nat_reply(uint16_t i, rte_mbuf* m, const Service& svc) {
  const ParsedPacket& p = parsed_[i];
  if (!svc.owned) {  // the master translates it; two directors must not both answer
    drop(i, DropReason::vip_not_owned);
    return;
  }
  if (p.ttl <= 1) {
    control(i, ControlReason::ttl_exceeded);
    return;
  }
  uint32_t hop = snap_.route(p.dst_ip);
  if (hop == kNoNextHop) {
    drop(i, DropReason::no_route);
    return;
  }
  const NextHopSpec& nh = snap_.next_hop(hop);
  if (!nh.resolved) {
    // Clients are learned from their ARP; one whose entry the director lacks (it restarted,
    // or took over, while the client's cache still held the VIP) is resolved on demand.
    control(i, ControlReason::resolve);
    return;
  }
  uint8_t* frame = frame_of(m);
  // An ICMP error's outer source: address only. svc.port is kKeepPort for a multi-port
  // service: its backends answer from the port the client asked for.
  rewrite_snat(frame, p, svc.vip, svc.port);
  if (p.l4_proto == kIpProtoIcmp) rewrite_icmp_quote_destination(frame, p, svc.vip, svc.port);
  decrement_ttl(frame, p);
  rewrite_macs(frame, snap_.port(nh.port)->mac, nh.mac);
  verdicts_[i] = Verdict::transmit(nh.port);
}

void Burst::ipv6(uint16_t i, rte_mbuf* m, uint32_t flow_hash) {
  const ParsedPacket& p = parsed_[i];
  const uint8_t* frame = frame_of(m);
  if (p.l4_proto == kIpProtoIcmpv6 && p.has_l4 && is_neighbour_discovery(p.icmp_type)) {
    control(i, ControlReason::neighbour_discovery);
    return;
  }
  if (p.l4_proto == kIpProtoVrrp) {
    control(i, ControlReason::vrrp);
    return;
  }
  const bool ported = p.has_l4 && is_tcp_or_udp(p.l4_proto);
  const bool icmp_error = p.l4_proto == kIpProtoIcmpv6 && p.has_l4 && !p.is_fragment &&
                          is_icmpv6_error(p.icmp_type);
  uint16_t index = 0;
  switch (snap_.classify6(ipv6_dst(frame, p), ported ? p.dst_port : 0,
                          ported ? p.l4_proto : 0, &index)) {
    case AddressKind::service: {
      if (p.is_fragment) {
        drop(i, DropReason::ipv6_fragment);
        return;
      }
      schedule(i, m, *flows6_, flow_key6(frame, p), index, flow_hash);
      return;
    }
    case AddressKind::vip_address:
      if (p.is_fragment && is_tcp_or_udp(p.l4_proto))
        drop(i, DropReason::ipv6_fragment);
      else if (icmp_error)
        icmp6_error_to_vip(i, m);
      else if (p.l4_proto == kIpProtoIcmpv6)
        control(i, ControlReason::local);
      else
        drop(i, DropReason::vip_port_unknown);
      return;
    case AddressKind::local_address:
      control(i, ControlReason::local);
      return;
    case AddressKind::not_owned:
      drop(i, DropReason::vip_not_owned);
      return;
    case AddressKind::unknown:
      break;
  }
  if (ported && !p.is_fragment) {
    const int svc = snap_.nat_reply_service6(ipv6_src(frame, p), p.src_port, p.l4_proto);
    if (svc >= 0) {
      nat_reply6(i, m, snap_.service(static_cast<uint16_t>(svc)));
      return;
    }
  }
  if (icmp_error) {
    icmp6_error_to_client(i, m);
    return;
  }
  drop(i, DropReason::not_for_us);
}

// As icmp_error_to_vip: an error about a packet a backend sent as the VIP goes to that backend.
void Burst::icmp6_error_to_vip(uint16_t i, rte_mbuf* m) {
  const ParsedPacket& p = parsed_[i];
  QuotedFlow6 q;
  uint16_t service_index = 0;
  if (!read_icmpv6_quote(frame_of(m), p, q) || !is_tcp_or_udp(q.proto) ||
      snap_.classify6(q.src_ip, q.src_port, q.proto, &service_index) != AddressKind::service) {
    control(i, ControlReason::icmp_error);
    return;
  }
  const Service& svc = snap_.service(service_index);
  const FlowKey6 key{q.dst_ip, q.src_ip, q.dst_port, q.src_port, q.proto};
  const uint32_t flow_hash = FlowTable6::hash(key);
  const FlowEntry6* e = flows6_->lookup(key, flow_hash, now_);
  const Backend* b = e != nullptr ? snap_.backend(e->backend) : nullptr;
  if (b == nullptr || !b->accepts_existing)
    b = pick_new(i, svc, service_index,
                 {client_address6(svc, q.dst_ip), scheduling_address(q.src_ip), flow_hash});
  if (b == nullptr) return;
  if (svc.mode == ForwardMode::nat) rewrite_icmpv6_quote_source(frame_of(m), p, b->ip6, b->port);
  forward6(i, m, svc, *b, flow_hash);
}

// As icmp_error_to_client: an error about a NAT66 flow goes back to its client.
void Burst::icmp6_error_to_client(uint16_t i, rte_mbuf* m) {
  const ParsedPacket& p = parsed_[i];
  QuotedFlow6 q;
  int svc = -1;
  if (read_icmpv6_quote(frame_of(m), p, q) && is_tcp_or_udp(q.proto))
    svc = snap_.nat_reply_service6(q.dst_ip, q.dst_port, q.proto);
  if (svc >= 0)
    nat_reply6(i, m, snap_.service(static_cast<uint16_t>(svc)));
  else
    control(i, ControlReason::icmp_error);
}

// To an IPv6 real server: an IPv6 service in any mode, or an IPv4 one in TUN (4-in-6).
void Burst::forward6(uint16_t i, rte_mbuf* m, const Service& svc, const Backend& b,
                     uint32_t flow_hash) {
  const ParsedPacket& p = parsed_[i];
  const NextHopSpec* hop = resolved_hop(i, b);
  if (hop == nullptr) return;
  const NextHopSpec& nh = *hop;
  const PortSpec& out = *snap_.port(nh.port);
  const uint32_t received_len = rte_pktmbuf_pkt_len(m);
  uint8_t* frame = frame_of(m);
  switch (svc.mode) {
    case ForwardMode::dr:
      break;
    case ForwardMode::nat:
      if (routed_hop_expires(p)) {
        control(i, ControlReason::ttl_exceeded);
        return;
      }
      rewrite_dnat6(frame, p, b.ip6, b.port);
      decrement_hop_limit(frame, p);
      break;
    case ForwardMode::tun:
      frame = tunnel_room(i, m, tun_fit_ipv6(frame, p, out.mtu).fit, kIpv6TunnelOverhead);
      if (frame == nullptr) return;
      encap_ipv6(frame, p, out.local_ip6, b.ip6, snap_.tunnel_ttl(), flow_hash);
      break;
  }
  send_to(i, frame, nh, b, received_len);
}

void Burst::nat_reply6(uint16_t i, rte_mbuf* m, const Service& svc) {
  const ParsedPacket& p = parsed_[i];
  if (!svc.owned) {
    drop(i, DropReason::vip_not_owned);
    return;
  }
  if (routed_hop_expires(p)) {
    control(i, ControlReason::ttl_exceeded);
    return;
  }
  uint8_t* frame = frame_of(m);
  const uint32_t hop = snap_.route6(ipv6_dst(frame, p));
  if (hop == kNoNextHop) {
    drop(i, DropReason::no_route);
    return;
  }
  const NextHopSpec& nh = snap_.next_hop(hop);
  if (!nh.resolved) {
    control(i, ControlReason::resolve);  // Neighbour Discovery has not seen the client yet
    return;
  }
  rewrite_snat6(frame, p, svc.vip6, svc.port);
  if (p.l4_proto == kIpProtoIcmpv6) rewrite_icmpv6_quote_destination(frame, p, svc.vip6, svc.port);
  decrement_hop_limit(frame, p);
  rewrite_macs(frame, snap_.port(nh.port)->mac, nh.mac);
  verdicts_[i] = Verdict::transmit(nh.port);
}

void Burst::account(uint16_t n) {
  ctr_.rx.add(n);
  uint16_t tx = 0;
  for (uint16_t i = 0; i < n; ++i) {
    switch (verdicts_[i].action) {
      case Action::transmit:
        ++tx;
        break;
      case Action::to_control:
        ctr_.control[verdicts_[i].reason].add();
        break;
      case Action::drop:
        ctr_.drops[verdicts_[i].reason].add();
        break;
    }
  }
  ctr_.tx.add(tx);
}

static_assert(kMaxBurst <= Snapshot::kMaxClassifyBulk);

// How many flows ahead of its lookup a flow's two candidate buckets are prefetched. A whole
// burst's at once (64 lines for 32 IPv4 flows) asked for more lines than a core keeps in
// flight, and the prefetches stalled on one another (37% of the pipeline's samples with 1M
// flows); a fixed distance keeps fewer in flight while the lookups before them run. An IPv6
// bucket is two lines, so IPv6 looks half as far ahead. With 1M flows: IPv4 4 ns a packet less
// on the rx ring and 4-18 ns less per new flow, IPv6 9-14 ns and 11-40 ns less (BENCHMARKS.md,
// "Prefetching a fixed distance ahead").
constexpr uint16_t kPrefetchAhead = 16;
constexpr uint16_t kPrefetchAhead6 = 8;

void Burst::run(rte_mbuf** pkts, uint16_t n) {
  // Stage 1: parse every frame; IPv4 ones go to one bulk lookup of their destination.
  uint32_t ips[kMaxBurst];
  uint16_t ports[kMaxBurst];
  uint8_t protos[kMaxBurst];
  uint16_t which[kMaxBurst];
  uint16_t count = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (!parse(i, pkts[i])) continue;
    const ParsedPacket& p = parsed_[i];
    bool ported = p.has_l4 && is_tcp_or_udp(p.l4_proto);
    ips[count] = p.dst_ip;
    ports[count] = ported ? p.dst_port : 0;
    protos[count] = ported ? p.l4_proto : 0;
    which[count++] = i;
  }
  // IPv6: hash every TCP and UDP packet's 5-tuple first, then handle each with its buckets
  // prefetched kPrefetchAhead6 flows early, so that the burst's cache misses in the IPv6 flow
  // table overlap (a packet for no service wastes one prefetch).
  if (n_ipv6_ != 0) {
    uint32_t hashes6[kMaxBurst];
    uint16_t flows6[kMaxBurst];  // the k of each TCP or UDP packet, in order
    uint16_t n_flows6 = 0;
    for (uint16_t k = 0; k < n_ipv6_; ++k) {
      const ParsedPacket& p = parsed_[ipv6_[k]];
      hashes6[k] = 0;  // no flow: only a TCP or UDP packet can be a service's
      if (!p.has_l4 || !is_tcp_or_udp(p.l4_proto)) continue;
      hashes6[k] = FlowTable6::hash(flow_key6(frame_of(pkts[ipv6_[k]]), p));
      flows6[n_flows6++] = k;
    }
    for (uint16_t j = 0; j < std::min(n_flows6, kPrefetchAhead6); ++j)
      flows6_->prefetch(hashes6[flows6[j]]);
    for (uint16_t k = 0, j = 0; k < n_ipv6_; ++k) {
      if (j < n_flows6 && flows6[j] == k) {
        if (j + kPrefetchAhead6 < n_flows6) flows6_->prefetch(hashes6[flows6[j + kPrefetchAhead6]]);
        ++j;
      }
      ipv6(ipv6_[k], pkts[ipv6_[k]], hashes6[k]);
    }
  }
  if (count == 0) return finish(n);

  AddressKind kinds[kMaxBurst];
  uint16_t index[kMaxBurst];
  snap_.classify_bulk(ips, ports, protos, count, kinds, index);

  // Stage 2: hash the flows of service traffic; handle the rest.
  uint32_t hashes[kMaxBurst];
  uint16_t flows[kMaxBurst];  // the k of each service packet, in order
  uint16_t n_flows = 0;
  for (uint16_t k = 0; k < count; ++k) {
    uint16_t i = which[k];
    const ParsedPacket& p = parsed_[i];
    if (kinds[k] != AddressKind::service) {
      classify_rest(i, kinds[k], pkts[i]);
      continue;
    }
    if (p.is_fragment) {
      drop(i, DropReason::ipv4_fragment);
      continue;
    }
    hashes[k] = FlowTable::hash({p.src_ip, p.dst_ip, p.src_port, p.dst_port, p.l4_proto});
    flows[n_flows++] = k;
  }

  // Stage 3: flow lookup, scheduling and rewrite, each flow's buckets prefetched
  // kPrefetchAhead flows before its turn (see kPrefetchAhead).
  for (uint16_t j = 0; j < std::min(n_flows, kPrefetchAhead); ++j)
    flows_.prefetch(hashes[flows[j]]);
  for (uint16_t j = 0; j < n_flows; ++j) {
    if (j + kPrefetchAhead < n_flows) flows_.prefetch(hashes[flows[j + kPrefetchAhead]]);
    const uint16_t k = flows[j];
    const ParsedPacket& p = parsed_[which[k]];
    schedule(which[k], pkts[which[k]], flows_,
             FlowKey{p.src_ip, p.dst_ip, p.src_port, p.dst_port, p.l4_proto}, index[k], hashes[k]);
  }
  finish(n);
}

void Burst::finish(uint16_t n) {
  if (n_events_ != 0) sync_.events->push_burst(events_, n_events_);
  if (n_events6_ != 0) sync_.events6->push_burst(events6_, n_events6_);
  account(n);
}

}  // namespace

uint64_t WorkerCounters::dropped() const {
  uint64_t sum = 0;
  for (const Counter& c : drops) sum += c.get();
  return sum;
}

uint64_t WorkerCounters::to_control() const {
  uint64_t sum = 0;
  for (const Counter& c : control) sum += c.get();
  return sum;
}

void process_burst(rte_mbuf** pkts, uint16_t n, const BurstContext& ctx, Verdict* verdicts) {
  for (uint16_t done = 0; done < n;) {
    uint16_t chunk = std::min<uint16_t>(kMaxBurst, n - done);
    Burst(ctx, verdicts + done).run(pkts + done, chunk);
    done += chunk;
  }
}

}  // namespace shoal::dp
