#include "healthcheck/monitor.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

namespace shoal::hc {
namespace {

std::string initial_reason(const Target& t) {
  if (t.spec.type == CheckType::none) return "no health check (type none)";
  return t.spec.initial_up ? "initial state up" : "initial state down (until the first check passes)";
}

}  // namespace

std::string to_string(const Transition& t) {
  if (!t.state_changed)
    return fmt::format("{} {} {}", t.key.backend, endpoint(t.address, t.port), t.reason);
  return fmt::format("{} {} {}: {}", t.key.backend, endpoint(t.address, t.port),
                     t.up ? "up" : "down", t.reason);
}

double Monitor::spread_fraction(const TargetKey& key) {
  // FNV-1a over "service\0backend", then a final mix: stable across runs and machines.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  };
  mix(key.service);
  h = (h ^ 0) * 0x100000001b3ull;
  mix(key.backend);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

void Monitor::schedule(Entry& e, TimePoint at) {
  e.scheduled = true;
  e.due = at;
  heap_.push(Due{at, e.id, ++e.seq});
}

void Monitor::unschedule(Entry& e) {
  e.scheduled = false;
  ++e.seq;
}

void Monitor::drop_probe(Entry& e) {
  if (e.token) in_flight_.erase(e.token);
  e.token = 0;
}

void Monitor::emit(const Entry& e, bool state_changed, std::string reason,
                   std::optional<uint32_t> weight) {
  Transition t;
  t.key = e.target->key;
  t.address = e.target->address;
  t.port = e.target->port;
  t.up = e.state.up();
  t.state_changed = state_changed;
  t.reason = std::move(reason);
  t.weight = weight;
  transitions_.push_back(std::move(t));
}

void Monitor::set_targets(std::vector<Target> targets) {
  const TimePoint now = clock_.now();
  std::unordered_set<TargetKey, TargetKeyHash> wanted;
  wanted.reserve(targets.size());
  for (Target& t : targets) {
    if (!wanted.insert(t.key).second) continue;  // a validated config has no duplicates
    auto it = entries_.find(t.key);
    if (it == entries_.end()) {
      Entry e(++next_id_, std::make_shared<const Target>(std::move(t)));
      e.reason = initial_reason(*e.target);
      auto [pos, fresh] = entries_.emplace(e.target->key, std::move(e));
      Entry& entry = pos->second;
      by_id_[entry.id] = &entry;
      const CheckSpec& spec = entry.target->spec;
      if (spec.type != CheckType::none) {
        const double offset = spread_fraction(entry.target->key) * spec.spread * spec.interval_ms;
        schedule(entry, now + std::chrono::microseconds(static_cast<int64_t>(offset * 1000)));
      }
      continue;
    }
    Entry& e = it->second;
    if (*e.target == t) continue;
    const CheckSpec& old = e.target->spec;
    const CheckSpec& spec = t.spec;
    drop_probe(e);
    e.state.set_thresholds(spec.rise, spec.fall);
    if (spec.type == CheckType::none) {
      unschedule(e);
      e.target = std::make_shared<const Target>(std::move(t));
      if (e.state.force_up()) {
        e.reason = "health check removed (type none)";
        emit(e, true, e.reason, std::nullopt);
      }
      continue;
    }
    const Millis interval(spec.interval_ms);
    if (t.address != e.target->address || t.check_port() != e.target->check_port()) {
      // Another server under the same name: what was known of the old one says nothing.
      const bool was_up = e.state.up();
      e.state = HealthState(spec.rise, spec.fall, spec.initial_up);
      e.target = std::make_shared<const Target>(std::move(t));
      e.reason = initial_reason(*e.target);
      e.last.reset();
      e.last_checked.reset();
      e.weight.reset();
      if (was_up != e.state.up())
        emit(e, true,
             fmt::format("now {}, {}", endpoint(e.target->address, e.target->check_port()),
                         e.reason),
             std::nullopt);
      const double offset = spread_fraction(e.target->key) * spec.spread * spec.interval_ms;
      schedule(e, now + std::chrono::microseconds(static_cast<int64_t>(offset * 1000)));
      continue;
    }
    if (old.type == CheckType::none || !e.scheduled) {
      const double offset = spread_fraction(t.key) * spec.spread * spec.interval_ms;
      schedule(e, now + std::chrono::microseconds(static_cast<int64_t>(offset * 1000)));
    } else if (spec.interval_ms < old.interval_ms && e.due > now + interval) {
      schedule(e, now + interval);
    }
    e.target = std::make_shared<const Target>(std::move(t));
  }

  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    drop_probe(it->second);
    by_id_.erase(it->second.id);
    it = entries_.erase(it);
  }
  std::erase_if(transitions_, [&](const Transition& t) { return !wanted.count(t.key); });

  // Rebuild the heap: drops the stale items of removed and rescheduled targets.
  std::vector<Due> items;
  items.reserve(entries_.size());
  for (auto& [key, e] : entries_)
    if (e.scheduled) items.push_back(Due{e.due, e.id, e.seq});
  heap_ = decltype(heap_)(std::greater<Due>(), std::move(items));
}

std::optional<TimePoint> Monitor::next_due() {
  while (!heap_.empty()) {
    const Due& top = heap_.top();
    auto it = by_id_.find(top.id);
    if (it != by_id_.end() && it->second->seq == top.seq) return top.at;
    heap_.pop();
  }
  return std::nullopt;
}

std::vector<ProbeRequest> Monitor::take_due(size_t max) {
  std::vector<ProbeRequest> out;
  const TimePoint now = clock_.now();
  while (out.size() < max && !heap_.empty() && heap_.top().at <= now) {
    const Due top = heap_.top();
    heap_.pop();
    auto it = by_id_.find(top.id);
    if (it == by_id_.end() || it->second->seq != top.seq) continue;
    Entry& e = *it->second;
    const Millis interval(e.target->spec.interval_ms);
    TimePoint next = e.due + interval;
    if (next <= now) next = now + interval;  // fell behind: no burst of catch-up checks
    schedule(e, next);
    if (e.token) continue;  // still in flight: this round is skipped
    e.token = ++next_token_;
    in_flight_[e.token] = &e;
    out.push_back(ProbeRequest{e.token, e.target});
  }
  return out;
}

void Monitor::complete(uint64_t token, const Verdict& verdict) {
  auto it = in_flight_.find(token);
  if (it == in_flight_.end()) return;
  Entry& e = *it->second;
  in_flight_.erase(it);
  e.token = 0;
  e.last = verdict;
  e.last_checked = clock_.now();
  std::optional<std::string> flip = e.state.record(verdict.pass, verdict.detail);
  std::optional<uint32_t> weight;
  if (verdict.pass && verdict.weight && verdict.weight != e.weight) weight = e.weight = verdict.weight;
  if (flip) {
    e.reason = *flip;
    emit(e, true, *flip, weight);
  } else if (weight) {
    emit(e, false, fmt::format("weight {} from command output", *weight), weight);
  }
}

std::vector<Transition> Monitor::take_transitions() {
  std::vector<Transition> out;
  out.swap(transitions_);
  return out;
}

std::optional<TargetStatus> Monitor::status(const TargetKey& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  const Entry& e = it->second;
  TargetStatus s;
  s.type = e.target->spec.type;
  s.up = e.state.up();
  s.passes = e.state.passes();
  s.failures = e.state.failures();
  s.checks = e.state.checks();
  s.reason = e.reason;
  s.last = e.last;
  s.last_checked = e.last_checked;
  s.weight = e.weight;
  return s;
}

}  // namespace shoal::hc
