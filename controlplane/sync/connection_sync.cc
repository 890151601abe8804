#include "sync/connection_sync.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "dataplane/worker/worker.h"

namespace shoal::cp {

namespace {

IpAddress address_of(uint32_t ip) { return IpAddress::from_v4(ip); }
IpAddress address_of(const dp::Ipv6Address& ip) { return IpAddress::from_v6(ip); }

}  // namespace

std::string_view name(PullState s) {
  switch (s) {
    case PullState::pulling:
      return "pulling";
    case PullState::done:
      return "done";
    case PullState::timed_out:
      return "timed_out";
  }
  return "?";
}

ConnectionSync::ConnectionSync(const ConnectionSyncSettings& settings,
                               const dp::FlowTimeouts& timeouts, uint32_t workers,
                               rte_rcu_qsbr* qsbr, int socket, const rte_ether_addr& mac,
                               uint32_t src_ip, uint16_t mtu, uint32_t persistence_capacity)
    : settings_(settings), timeouts_(timeouts), mac_(mac), src_ip_(src_ip),
      entries_per_message_(sync_entries_per_message(mtu)),
      wide_entries_per_message_(sync_entries_per_message(mtu, kSyncWideEntryLen)),
      wide_persistence_per_message_(sync_entries_per_message(mtu, kSyncWidePersistenceLen)),
      synced_(std::make_unique<dp::SyncedFlows>(settings.table_size, qsbr, socket)),
      // Sized as the workers size their IPv6 flow tables against their IPv4 ones.
      synced6_(std::make_unique<dp::SyncedFlows6>(
          std::max<uint32_t>(settings.table_size / dp::Worker::kIpv6FlowShare, 1024), qsbr,
          socket)),
      synced_persistence_(std::make_unique<dp::PersistenceTable>(persistence_capacity)) {
  // DPDK names its rings process-wide: one name per instance and worker.
  static uint32_t instances = 0;
  const uint32_t instance = instances++;
  for (uint32_t w = 0; w < workers; ++w) {
    const std::string ring = fmt::format("shoal_sync_events{}_{}", instance, w);
    rings_.push_back(std::make_unique<dp::FlowEventRing>(ring.c_str(), kEventRingSize, socket));
    const std::string ring6 = fmt::format("shoal_sync_events6_{}_{}", instance, w);
    rings6_.push_back(std::make_unique<dp::FlowEventRing6>(ring6.c_str(), kEventRingSize, socket));
    walkers_.push_back(std::make_unique<dp::SyncWalker>(settings.refresh_ms));
  }
  answer_tickets_.resize(workers);
  pending_.reserve(entries_per_message_);
  pending_wide_.reserve(wide_entries_per_message_);
  pending_wide_persistence_.reserve(wide_persistence_per_message_);
  pending_persistence_.reserve(entries_per_message_);
}

ConnectionSync::~ConnectionSync() = default;

dp::FlowSyncContext ConnectionSync::context(uint32_t w) const {
  return {synced_.get(), rings_[w].get(), synced_persistence_.get(), synced6_.get(),
          rings6_[w].get()};
}

void ConnectionSync::update(const dp::SnapshotSpec& spec) {
  services_.clear();
  backend_address_.clear();
  persistent_owned_.clear();
  holds_synced_ = false;
  for (const dp::ServiceSpec& s : spec.services) {
    if (!s.sync) continue;
    // A listed-port service is keyed by its first port, one on every port by port 0.
    const uint16_t port = s.key_port();
    const IpAddress vip = s.ipv6 ? IpAddress::from_v6(s.vip6) : IpAddress::from_v4(s.vip);
    ServiceEntry& entry = services_[{vip, port, s.proto}];
    entry.owned = s.owned;
    entry.port_ranges = s.port_ranges;
    holds_synced_ = holds_synced_ || s.owned;
    if (s.persistence_timeout_ms != 0) {
      entry.persistence_tag = dp::persistence_tag(s);
      entry.persistence_timeout_ms = s.persistence_timeout_ms;
      entry.persistence_mask = s.persistence_mask;
      if (s.owned) persistent_owned_[entry.persistence_tag] = {vip, port, s.proto};
    }
    for (const dp::BackendSpec& b : s.backends) {
      const IpAddress ip = b.ipv6 ? IpAddress::from_v6(b.ip6) : IpAddress::from_v4(b.ip);
      entry.backends[{ip, b.port}] = b.id;
      backend_address_[b.id] = {ip, b.port};
    }
  }
}

const ConnectionSync::ServiceEntry* ConnectionSync::find_service(const IpAddress& vip,
                                                                 uint16_t port,
                                                                 uint8_t proto) const {
  if (auto it = services_.find({vip, port, proto}); it != services_.end()) return &it->second;
  const uint16_t host_port = dp::be16(port);
  for (auto it = services_.lower_bound({vip, 0, 0});
       it != services_.end() && std::get<0>(it->first) == vip; ++it)
    if (std::get<2>(it->first) == proto &&
        std::any_of(it->second.port_ranges.begin(), it->second.port_ranges.end(),
                    [host_port](const dp::PortRange& r) {
                      return host_port >= r.first && host_port <= r.last;
                    }))
      return &it->second;
  const auto every = services_.find({vip, 0, proto});
  return every != services_.end() && every->second.port_ranges.empty() ? &every->second : nullptr;
}

void ConnectionSync::start(uint32_t now_ms) {
  pull_ = PullState::pulling;
  pull_started_ms_ = pull_sent_ms_ = now_ms;
  pull_flows_at_start_ = counters_.flows_received;
  spdlog::info("connection sync: pulling flows from peers (group {}:{}, id {}, up to {} ms)",
               dp::ipv4_to_string(settings_.group), settings_.udp_port, settings_.id,
               settings_.pull_timeout_ms);
  send_control(SyncMessageType::pull_request);
}

void ConnectionSync::receive(const uint8_t* payload, std::size_t len, uint32_t src_ip,
                             uint8_t ttl, uint32_t now_ms) {
  if (src_ip == src_ip_) return;  // our own, looped back by the port
  if (ttl != kSyncTtl) return drop(SyncDrop::bad_ttl);
  SyncHeader h;
  if (auto bad = parse_sync_header(payload, len, settings_.id, h)) return drop(*bad);
  ++counters_.messages_received;
  // Every datagram a peer sends takes the next number: a gap is datagrams lost on the way
  // (a peer that restarted starts again from 1, which is no gap).
  const auto [last, first] = last_sequence_.try_emplace(src_ip, h.sequence);
  if (!first) {
    const uint32_t gap = h.sequence - last->second - 1;
    if (h.sequence > last->second && gap < (1u << 20)) counters_.messages_missed += gap;
    last->second = h.sequence;
  }
  switch (h.type) {
    case SyncMessageType::flows:
    case SyncMessageType::wide_flows:
      receive_flows(payload + kSyncHeaderLen, h.count, sync_entry_len(h.type), now_ms);
      break;
    case SyncMessageType::persistence:
    case SyncMessageType::wide_persistence:
      receive_persistence(payload + kSyncHeaderLen, h.count, sync_entry_len(h.type), now_ms);
      break;
    case SyncMessageType::pull_request:
      if (!holds_synced_) break;  // only a director holding synced VIPs has flows to give
      if (answering_) {
        // The asker retries every kPullRetryMs until it is answered: restarting the walk for
        // each retry would never finish a large table. Another asker gets a walk of its own
        // once this one is done: it missed what went out before it asked.
        if (src_ip != answer_to_) answer_again_ = src_ip;
        break;
      }
      start_answer(src_ip);
      break;
    case SyncMessageType::pull_done:
      if (pull_ != PullState::pulling) break;
      pull_ = PullState::done;
      spdlog::info("connection sync: pull done: {} flow(s) from {} in {} ms",
                   counters_.flows_received - pull_flows_at_start_, dp::ipv4_to_string(src_ip),
                   now_ms - pull_started_ms_);
      break;
  }
}

void ConnectionSync::start_answer(uint32_t to) {
  for (std::size_t w = 0; w < walkers_.size(); ++w)
    answer_tickets_[w] = walkers_[w]->request_full_pass();
  answer_flows_at_start_ = counters_.flows_sent;
  answering_ = true;
  answer_synced_done_ = false;
  answer_cursor_ = answer_cursor6_ = 0;
  answer_to_ = to;
  // The asker has none of the persistence entries either: the next pass sends them all.
  persistence_sent_.clear();
  persistence_walking_ = false;
  persistence_pass_ms_ -= kPersistenceIntervalMs;
}

void ConnectionSync::receive_flows(const uint8_t* entries, uint16_t count, std::size_t entry_len,
                                   uint32_t now_ms) {
  for (uint16_t i = 0; i < count; ++i) {
    ++counters_.flows_received;
    const uint8_t* in = entries + i * entry_len;
    const std::optional<SyncEntry> e =
        entry_len == kSyncEntryLen ? read_sync_entry(in) : read_sync_wide_entry(in);
    if (!e) {
      drop(SyncDrop::bad_entry);
      continue;
    }
    install(*e, now_ms);
  }
}

void ConnectionSync::install(const SyncEntry& e, uint32_t now_ms) {
  const ServiceEntry* service = find_service(e.vip, e.vip_port, e.proto);
  if (service == nullptr) return drop(SyncDrop::unknown_service);
  if (service->owned) return drop(SyncDrop::owned_service);
  if (e.op == SyncOp::remove) {
    if (e.ipv6() ? synced6_->remove(e.key6()) : synced_->remove(e.key())) ++counters_.removed;
    return;
  }
  const auto backend = service->backends.find({e.backend, e.backend_port});
  if (backend == service->backends.end()) return drop(SyncDrop::unknown_backend);
  const dp::SyncedFlow flow{backend->second, e.state, now_ms};
  if (!(e.ipv6() ? synced6_->upsert(e.key6(), flow) : synced_->upsert(e.key(), flow)))
    return drop(SyncDrop::table_full);
  ++counters_.installed;
}

void ConnectionSync::receive_persistence(const uint8_t* entries, uint16_t count,
                                         std::size_t entry_len, uint32_t now_ms) {
  for (uint16_t i = 0; i < count; ++i) {
    ++counters_.persistence_received;
    const uint8_t* in = entries + i * entry_len;
    const std::optional<SyncPersistence> p =
        entry_len == kSyncEntryLen ? read_sync_persistence(in) : read_sync_wide_persistence(in);
    if (!p) {
      drop(SyncDrop::bad_entry);
      continue;
    }
    const auto service = services_.find({p->vip, p->vip_port, p->proto});
    if (service == services_.end()) {
      drop(SyncDrop::unknown_service);
      continue;
    }
    const ServiceEntry& svc = service->second;
    if (svc.owned) {
      drop(SyncDrop::owned_service);
      continue;
    }
    if (svc.persistence_tag == 0) {
      drop(SyncDrop::not_persistent);
      continue;
    }
    const auto backend = svc.backends.find({p->backend, p->backend_port});
    if (backend == svc.backends.end()) {
      drop(SyncDrop::unknown_backend);
      continue;
    }
    // This director's netmask and timeout rule (the files should agree).
    const dp::PersistenceTable::Client client{svc.persistence_tag, p->client & svc.persistence_mask};
    const uint32_t left = std::min(p->left_ms, svc.persistence_timeout_ms);
    const auto known = synced_persistence_->find(client, now_ms);
    if (known && known->backend == backend->second &&
        static_cast<int32_t>(known->expires_ms - (now_ms + left)) >= 0)
      continue;  // nothing new: another worker's copy of the same entry
    synced_persistence_->record(client, backend->second, now_ms, left);
    ++counters_.persistence_installed;
  }
}

void ConnectionSync::walk_persistence(uint32_t now_ms) {
  if (persistent_owned_.empty() || local_persistence_.empty()) return;
  if (!persistence_walking_) {
    if (now_ms - persistence_pass_ms_ < kPersistenceIntervalMs) return;
    persistence_walking_ = true;
    persistence_pass_ms_ = now_ms;
    persistence_cursor_ = 0;
  }
  const uint64_t per_table = local_persistence_.front()->capacity();
  const uint64_t end = per_table * local_persistence_.size();
  for (uint32_t i = 0; i < kPersistenceSlotsPerPoll && frames_.size() < kFramesPerPoll; ++i) {
    if (persistence_cursor_ == end) {
      persistence_walking_ = false;
      std::erase_if(persistence_sent_, [now_ms](const auto& sent) {
        return static_cast<int32_t>(sent.second - now_ms) <= 0;
      });
      return;
    }
    const uint64_t at = persistence_cursor_++;
    const auto held = local_persistence_[at / per_table]->at(static_cast<uint32_t>(at % per_table), now_ms);
    if (!held) continue;
    const auto service = persistent_owned_.find(held->client.service_tag);
    const auto backend = backend_address_.find(held->backend);
    if (service == persistent_owned_.end() || backend == backend_address_.end()) continue;
    // Sent already, with this expiry or a later one (another worker's copy)?
    const uint64_t key = uint64_t(held->client.service_tag) << 32 | held->client.address;
    const auto [sent, fresh] = persistence_sent_.try_emplace(key, held->expires_ms);
    if (!fresh) {
      if (static_cast<int32_t>(held->expires_ms - sent->second) <= 0) continue;
      sent->second = held->expires_ms;
    }
    const auto& [vip, port, proto] = service->second;
    const auto& [backend_ip, backend_port] = backend->second;
    add_persistence({proto, held->client.address, vip, port, backend_ip, backend_port,
                     held->expires_ms - now_ms});
  }
}

void ConnectionSync::poll(uint32_t now_ms) {
  // Read the walkers' progress before draining: a pass that is done has all its events on
  // the rings by then (dp::SyncWalker::done() is an acquire).
  bool answered = answering_;
  for (std::size_t w = 0; answered && w < walkers_.size(); ++w)
    answered = static_cast<int32_t>(walkers_[w]->done() - answer_tickets_[w]) >= 0;

  drain_events(static_cast<uint32_t>(kFramesPerPoll * entries_per_message_));
  if (answering_ && !answer_synced_done_) answer_synced_done_ = !walk_synced_for_pull(4096);
  walk_persistence(now_ms);
  flush();
  if (answered && answer_synced_done_) {
    // Unless the rings still hold events of the walk (the frame budget ran out).
    bool rings_empty = true;
    for (const auto& r : rings_) rings_empty = rings_empty && r->empty();
    for (const auto& r : rings6_) rings_empty = rings_empty && r->empty();
    if (rings_empty) {
      send_control(SyncMessageType::pull_done);
      ++counters_.pulls_answered;
      answering_ = false;
      spdlog::info("connection sync: answered a pull from {}: {} flow(s) sent",
                   dp::ipv4_to_string(answer_to_), counters_.flows_sent - answer_flows_at_start_);
      if (answer_again_ != 0) {
        start_answer(answer_again_);
        answer_again_ = 0;
      }
    }
  }

  // rte_hash_iterate walks every slot up to the next entry: a sparse table is scanned whole
  // by one call, so the ageing runs a slice every kAgeIntervalMs, not every loop.
  if (table_size() != 0 && now_ms - aged_at_ms_ >= kAgeIntervalMs) {
    aged_at_ms_ = now_ms;
    if (synced_->size() != 0) counters_.aged += synced_->age(now_ms, timeouts_, kAgePerSlice);
    if (synced6_->size() != 0) counters_.aged += synced6_->age(now_ms, timeouts_, kAgePerSlice);
  }

  if (pull_ == PullState::pulling) {
    if (now_ms - pull_started_ms_ >= settings_.pull_timeout_ms) {
      pull_ = PullState::timed_out;
      spdlog::info("connection sync: pull timed out after {} ms ({} flow(s) received)",
                   now_ms - pull_started_ms_, counters_.flows_received - pull_flows_at_start_);
    } else if (now_ms - pull_sent_ms_ >= kPullRetryMs) {
      pull_sent_ms_ = now_ms;
      send_control(SyncMessageType::pull_request);
    }
  }
}

void ConnectionSync::drain_events(uint32_t max_entries) {
  for (const auto& ring : rings_) max_entries = drain_ring(*ring, max_entries);
  for (const auto& ring : rings6_) max_entries = drain_ring(*ring, max_entries);
}

template <typename Ring>
uint32_t ConnectionSync::drain_ring(Ring& ring, uint32_t max_entries) {
  typename Ring::value_type events[256];
  // Wide entries fill datagrams faster: the frame budget bounds the loop too.
  while (max_entries > 0 && frames_.size() < kFramesPerPoll) {
    const uint32_t n = ring.pop(events, std::min<uint32_t>(256, max_entries));
    if (n == 0) break;
    max_entries -= n;
    for (uint32_t i = 0; i < n; ++i) {
      const auto key = events[i].key();
      // Our own flow now: a copy a peer sent earlier (before we took over) is stale.
      auto& synced = synced_table<std::remove_const_t<decltype(key)>>();
      if (synced.size() != 0) synced.remove(key);
      if (const auto e = to_entry(key, events[i].state, events[i].backend))
        add_entry(*e);
      else
        ++counters_.events_unsendable;
    }
  }
  return max_entries;
}

bool ConnectionSync::walk_synced_for_pull(uint32_t max_visits) {
  return walk_synced_for_pull(*synced_, &answer_cursor_, max_visits) ||
         walk_synced_for_pull(*synced6_, &answer_cursor6_, max_visits);
}

template <typename Key>
bool ConnectionSync::walk_synced_for_pull(const dp::SyncedFlowsOf<Key>& table, uint32_t* cursor,
                                          uint32_t max_visits) {
  Key key;
  dp::SyncedFlow flow;
  for (uint32_t i = 0; i < max_visits && frames_.size() < kFramesPerPoll; ++i) {
    if (!table.next(cursor, &key, &flow)) return false;
    const ServiceEntry* service = find_service(address_of(key.dst_ip), key.dst_port, key.proto);
    if (service == nullptr || !service->owned) continue;
    if (const auto e = to_entry(key, flow.state, flow.backend)) add_entry(*e);
  }
  return true;
}

template <typename Key>
std::optional<SyncEntry> ConnectionSync::to_entry(const Key& key, dp::FlowState state,
                                                  uint16_t backend) const {
  const auto address = backend_address_.find(backend);
  if (address == backend_address_.end()) return std::nullopt;
  SyncEntry e;
  e.op = state == dp::FlowState::empty ? SyncOp::remove : SyncOp::upsert;
  e.proto = key.proto;
  e.state = state == dp::FlowState::empty ? dp::FlowState::closing : state;  // any valid one
  e.client = address_of(key.src_ip);
  e.vip = address_of(key.dst_ip);
  e.client_port = key.src_port;
  e.vip_port = key.dst_port;
  e.backend = address->second.first;
  e.backend_port = address->second.second;
  return e;
}

void ConnectionSync::add_entry(const SyncEntry& e) {
  if (e.narrow()) {
    pending_.push_back(e);
    if (pending_.size() == entries_per_message_) flush();
  } else {
    pending_wide_.push_back(e);
    if (pending_wide_.size() == wide_entries_per_message_) flush();
  }
}

void ConnectionSync::add_persistence(const SyncPersistence& p) {
  if (p.narrow()) {
    pending_persistence_.push_back(p);
    if (pending_persistence_.size() == entries_per_message_) flush();
  } else {
    pending_wide_persistence_.push_back(p);
    if (pending_wide_persistence_.size() == wide_persistence_per_message_) flush();
  }
}

void ConnectionSync::flush() {
  if (!pending_.empty()) {
    send_entries(SyncMessageType::flows, pending_.size(),
                 [this](uint8_t* out, std::size_t i) { write_sync_entry(out, pending_[i]); });
    counters_.flows_sent += pending_.size();
    pending_.clear();
  }
  if (!pending_wide_.empty()) {
    send_entries(SyncMessageType::wide_flows, pending_wide_.size(), [this](uint8_t* out, std::size_t i) {
      write_sync_wide_entry(out, pending_wide_[i]);
    });
    counters_.flows_sent += pending_wide_.size();
    pending_wide_.clear();
  }
  if (!pending_persistence_.empty()) {
    send_entries(SyncMessageType::persistence, pending_persistence_.size(),
                 [this](uint8_t* out, std::size_t i) {
                   write_sync_persistence(out, pending_persistence_[i]);
                 });
    counters_.persistence_sent += pending_persistence_.size();
    pending_persistence_.clear();
  }
  if (!pending_wide_persistence_.empty()) {
    send_entries(SyncMessageType::wide_persistence, pending_wide_persistence_.size(),
                 [this](uint8_t* out, std::size_t i) {
                   write_sync_wide_persistence(out, pending_wide_persistence_[i]);
                 });
    counters_.persistence_sent += pending_wide_persistence_.size();
    pending_wide_persistence_.clear();
  }
}

template <typename WriteEntry>
void ConnectionSync::send_entries(SyncMessageType type, std::size_t count, WriteEntry write) {
  const std::size_t entry_len = sync_entry_len(type);
  std::vector<uint8_t> frame(kSyncFrameOverhead + kSyncHeaderLen + entry_len * count);
  uint8_t* payload = frame.data() + kSyncFrameOverhead;
  write_sync_header(payload, {type, settings_.id, static_cast<uint16_t>(count), ++sequence_});
  for (std::size_t i = 0; i < count; ++i) write(payload + kSyncHeaderLen + i * entry_len, i);
  finish_sync_frame(frame.data(), frame.size() - kSyncFrameOverhead, mac_, src_ip_,
                    settings_.group, settings_.udp_port);
  ++counters_.messages_sent;
  frames_.push_back(std::move(frame));
}

void ConnectionSync::send_control(SyncMessageType type) {
  std::vector<uint8_t> frame(kSyncFrameOverhead + kSyncHeaderLen);
  write_sync_header(frame.data() + kSyncFrameOverhead, {type, settings_.id, 0, ++sequence_});
  finish_sync_frame(frame.data(), kSyncHeaderLen, mac_, src_ip_, settings_.group,
                    settings_.udp_port);
  ++counters_.messages_sent;
  frames_.push_back(std::move(frame));
}

uint64_t ConnectionSync::events_lost() const {
  uint64_t lost = 0;
  for (const auto& r : rings_) lost += r->lost();
  for (const auto& r : rings6_) lost += r->lost();
  return lost;
}

nlohmann::json ConnectionSync::status(uint64_t claimed) const {
  nlohmann::json drops = nlohmann::json::object();
  for (std::size_t r = 0; r < kSyncDropCount; ++r)
    drops[std::string(name(static_cast<SyncDrop>(r)))] = counters_.drops[r];
  return {
      {"group", fmt::format("{}:{}", dp::ipv4_to_string(settings_.group), settings_.udp_port)},
      {"id", settings_.id},
      {"pull", name(pull_)},
      {"sent", {{"messages", counters_.messages_sent}, {"flows", counters_.flows_sent}}},
      {"received", {{"messages", counters_.messages_received},
                    {"missed", counters_.messages_missed},
                    {"flows", counters_.flows_received}}},
      {"table", {{"entries", synced_->size()}, {"capacity", synced_->capacity()}}},
      {"table6", {{"entries", synced6_->size()}, {"capacity", synced6_->capacity()}}},
      {"installed", counters_.installed},
      {"removed", counters_.removed},
      {"aged", counters_.aged},
      {"claimed", claimed},
      {"events_lost", events_lost()},
      {"pulls_answered", counters_.pulls_answered},
      {"persistence", {{"sent", counters_.persistence_sent},
                       {"received", counters_.persistence_received},
                       {"installed", counters_.persistence_installed}}},
      {"drops", drops},
  };
}

std::string ConnectionSync::counter_line(uint64_t claimed) const {
  std::string line = fmt::format(
      "pull={} sent={}/{} received={}/{} missed={} table={}+{} installed={} removed={} aged={} "
      "claimed={} lost={} persistence={}/{}/{}",
      name(pull_), counters_.messages_sent, counters_.flows_sent, counters_.messages_received,
      counters_.flows_received, counters_.messages_missed, synced_->size(), synced6_->size(),
      counters_.installed, counters_.removed,
      counters_.aged, claimed, events_lost(), counters_.persistence_sent,
      counters_.persistence_received, counters_.persistence_installed);
  for (std::size_t r = 0; r < kSyncDropCount; ++r)
    if (counters_.drops[r] != 0)
      line += fmt::format(" drop.{}={}", name(static_cast<SyncDrop>(r)), counters_.drops[r]);
  return line;
}

}  // namespace shoal::cp
