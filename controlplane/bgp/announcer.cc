#include "bgp/announcer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace shoal::cp {
namespace {

constexpr auto kBirdTimeout = std::chrono::seconds(3);
constexpr auto kPollEvery = std::chrono::seconds(1);  // `show protocols`; retries too

// A whole file or none: bird must never read half of one.
bool write_whole(const std::string& path, const std::string& text, std::string& error) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << text) || !out.flush()) {
      error = "cannot write " + tmp + ": " + std::strerror(errno);
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

BgpAnnouncer::Files BgpAnnouncer::files_for(const std::vector<VipOffer>& offers) {
  Files f;
  for (const VipOffer& o : offers)
    if (o.offered) f.vips.push_back(o.vip);
  const long pid = static_cast<long>(::getpid());
  f.text = bird_routes(offers, pid, false);
  f.text6 = bird_routes(offers, pid, true);
  return f;
}

BgpAnnouncer::BgpAnnouncer(BgpSettings settings) : settings_(std::move(settings)) {
  wanted_ = files_for({});
  if (apply(wanted_))
    spdlog::info("bgp: bird at {} loaded {} and {} with no VIP; VIPs follow once the director "
                 "runs",
                 settings_.socket, settings_.file, settings_.file6);
  else
    spdlog::warn("bgp: {} (will retry)", state_.error);
  thread_ = std::thread([this] { run(); });
}

BgpAnnouncer::~BgpAnnouncer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BgpAnnouncer::offer(std::vector<VipOffer> offers) {
  Files files = files_for(offers);
  {
    std::lock_guard lock(mutex_);
    state_.offered = std::move(offers);
    if (files.vips == wanted_.vips && wanted_version_ > 0) return;
    wanted_ = std::move(files);
    ++wanted_version_;
    state_.settled = false;
  }
  wake_.notify_all();
}

bool BgpAnnouncer::settled() const {
  std::lock_guard lock(mutex_);
  return state_.settled;
}

BgpAnnouncer::State BgpAnnouncer::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void BgpAnnouncer::run() {
  auto next_poll = std::chrono::steady_clock::now();
  bool failed = false;  // the last apply failed: retry with the next poll, not at once
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (wanted_version_ != applied_version_ &&
        (!failed || std::chrono::steady_clock::now() >= next_poll)) {
      const uint64_t version = wanted_version_;
      const Files files = wanted_;
      lock.unlock();
      failed = !apply(files);
      lock.lock();
      if (!failed) {
        applied_version_ = version;
        state_.settled = applied_version_ == wanted_version_;
      }
    }
    if (std::chrono::steady_clock::now() >= next_poll) {
      lock.unlock();
      poll_sessions();
      lock.lock();
      next_poll = std::chrono::steady_clock::now() + kPollEvery;
    }
    wake_.wait_until(lock, next_poll, [this, failed] {
      return stop_ || (!failed && wanted_version_ != applied_version_);
    });
  }
}

bool BgpAnnouncer::apply(const Files& files) {
  std::string error;
  BirdReply reply;
  if (write_whole(settings_.file, files.text, error) &&
      write_whole(settings_.file6, files.text6, error)) {
    reply = bird_command(settings_.socket, "configure", kBirdTimeout);
    if (!reply.ok()) error = "bird did not reconfigure: " + reply.summary();
  }
  std::lock_guard lock(mutex_);
  state_.bird_reachable = error.empty() || (reply.error.empty() && !reply.lines.empty());
  if (!error.empty()) {
    if (state_.error != error) spdlog::error("bgp: {}", error);
    state_.error = error;
    ++state_.failures;
    return false;
  }
  if (!state_.error.empty()) spdlog::info("bgp: bird reconfigured again");
  state_.error.clear();
  state_.in_bird = files.vips;
  ++state_.reconfigures;
  std::string list;
  for (const IpAddress& v : files.vips) {
    if (!list.empty()) list += ' ';
    list += to_string(v);
  }
  spdlog::info("bgp: offering {} VIP(s) to bird: {}", files.vips.size(),
               list.empty() ? "none" : list);
  return true;
}

void BgpAnnouncer::poll_sessions() {
  BirdReply reply = bird_command(settings_.socket, "show protocols", kBirdTimeout);
  std::vector<BirdProtocol> sessions;
  for (BirdProtocol& p : parse_bird_protocols(reply.lines))
    if (p.proto == "BGP") sessions.push_back(std::move(p));
  std::lock_guard lock(mutex_);
  state_.bird_reachable = reply.error.empty();
  if (reply.error.empty()) state_.sessions = std::move(sessions);
  else state_.sessions.clear();
}

}  // namespace shoal::cp
