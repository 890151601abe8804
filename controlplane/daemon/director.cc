#include "daemon/director.h"

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "net/control_frames.h"
#include "net/kernel_interface.h"
#include "dataplane/forward.h"
#include "dataplane/packet.h"

namespace shoal::cp {
namespace {

constexpr uint16_t kRxDescriptors = 1024;
constexpr uint16_t kTxDescriptors = 1024;
constexpr uint32_t kControlRingSize = 4096;
constexpr uint32_t kControlTxRingSize = 1024;
constexpr uint32_t kNeighbourTickMs = 100;
constexpr uint32_t kAnnounceRepeatMs = 1000;  // second round of gratuitous ARP after start
constexpr uint32_t kResolveIntervalMs = 200;   // between on-demand ARP requests for a client
constexpr std::size_t kMaxResolving = 4096;    // bounds the on-demand table under a scan
constexpr uint32_t kVrrpGoodbyeFlushMs = 50;  // for worker 0 to send the priority-0 adverts
// How long an API request waits for the control loop; it runs within a millisecond or two
// unless a reload builds a large Snapshot.
constexpr auto kApiWait = std::chrono::seconds(10);

[[noreturn]] void fatal(const std::string& what) { throw std::runtime_error(what); }

bool is_vdev(const std::string& device) { return device.rfind("net_", 0) == 0; }

std::string device_name(const std::string& device) { return device.substr(0, device.find(',')); }

bool has_option(const std::vector<std::string>& args, std::initializer_list<const char*> names) {
  for (const std::string& a : args)
    for (const char* n : names)
      if (a == n || a.rfind(std::string(n) + "=", 0) == 0) return true;
  return false;
}

}  // namespace

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Whole or not at all: a reader (a reload, an editor) never sees half a file.
bool write_file(const std::string& path, const std::string& text, std::string& error) {
  const std::string tmp = path + ".shoald-new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!(out << text) || !out.flush()) {
      error = fmt::format("{}: cannot write: {}", tmp, std::strerror(errno));
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = fmt::format("{}: cannot replace: {}", path, std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

Director::Director(Config config, std::string config_path, std::vector<std::string> eal_override)
    : config_(std::move(config)), config_path_(std::move(config_path)),
      running_text_(read_file(config_path_).value_or("")),
      eal_override_(std::move(eal_override)) {}

Director::~Director() {
  api_server_.reset();  // first: requests would wait for a control loop that no longer runs
  api_tcp_.reset();
  taps_.clear();
  for (const PortHandle& p : ports_) {
    rte_eth_dev_stop(p.id);
    rte_eth_dev_close(p.id);
  }
  workers_.clear();
  sync_.reset();  // its table is reclaimed through publisher_'s RCU state
  publisher_.reset();
  for (rte_ring* r : control_tx_) rte_ring_free(r);
  rte_ring_free(to_control_);
  rte_mempool_free(pool_);
  if (eal_started_) rte_eal_cleanup();
}

void Director::start_eal() {
  std::vector<std::string> args = {"shoald"};
  const std::vector<std::string>& extra = eal_override_.empty() ? config_.eal : eal_override_;
  args.insert(args.end(), extra.begin(), extra.end());
  // Several directors share a lab machine: keep no hugepage files behind (--in-memory), unless
  // the EAL runs without hugepages, where that option is refused.
  if (!has_option(args, {"--no-huge", "--in-memory", "--file-prefix"})) args.push_back("--in-memory");
  if (!has_option(args, {"-l", "-c", "--lcores"})) {
    long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
    // Main lcore plus one per worker, all free to run on any CPU: on a small machine they
    // share, and the workers' adaptive polling leaves room for each other.
    args.push_back("--lcores=(0-" + std::to_string(config_.workers.count) + ")@(0-" +
                   std::to_string(cpus - 1) + ")");
  }
  bool any_pci = false;
  for (std::size_t i = 0; i < config_.ports.size(); ++i)
    if (!config_.ports[i].tap.empty())
      args.push_back("--vdev=" + ExceptionPath::vdev_argument(config_, i));
  for (const PortConfig& p : config_.ports) {
    if (is_vdev(p.device)) {
      std::string dev = p.device;
      // net_af_packet spreads received flows over its queue pairs (PACKET_FANOUT): one per worker.
      if (dev.rfind("net_af_packet", 0) == 0 && dev.find("qpairs=") == std::string::npos &&
          config_.workers.count > 1)
        dev += ",qpairs=" + std::to_string(config_.workers.count);
      args.push_back("--vdev=" + dev);
    } else {
      args.push_back("-a");
      args.push_back(p.device);
      any_pci = true;
    }
  }
  if (!any_pci && !has_option(args, {"--no-pci", "-a", "-b"})) args.push_back("--no-pci");

  std::string joined;
  for (const std::string& a : args) joined += " " + a;
  spdlog::info("starting EAL:{}", joined);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
    fatal(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno));
  eal_started_ = true;
  if (rte_lcore_count() < config_.workers.count + 1)
    fatal("the EAL has " + std::to_string(rte_lcore_count()) + " lcores; " +
          std::to_string(config_.workers.count) + " workers need " +
          std::to_string(config_.workers.count + 1));
}

void Director::start_ports() {
  dp::register_control_reason_field();
  uint16_t queues = static_cast<uint16_t>(config_.workers.count);
  // Every descriptor of every queue, the rings, the exception paths' queues, and headroom.
  uint32_t mbufs = static_cast<uint32_t>(config_.ports.size()) * queues *
                       (kRxDescriptors + kTxDescriptors) +
                   kControlRingSize + kControlTxRingSize * config_.ports.size() +
                   2048 * static_cast<uint32_t>(config_.ports.size()) + 4096;
  pool_ = rte_pktmbuf_pool_create("shoal_mbufs", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) fatal(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno));

  for (const PortConfig& pc : config_.ports) {
    PortHandle handle;
    std::string name = device_name(pc.device);
    if (rte_eth_dev_get_port_by_name(name.c_str(), &handle.id) != 0)
      fatal("port " + pc.name + ": no DPDK device named '" + name + "' (device: " + pc.device + ")");
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(handle.id, &info) != 0) fatal("port " + pc.name + ": no device info");
    if (info.max_rx_queues < queues || info.max_tx_queues < queues)
      fatal("port " + pc.name + ": device has " + std::to_string(info.max_rx_queues) +
            " queues, " + std::to_string(queues) + " workers need one each");
    rte_eth_conf conf{};
    if (queues > 1 && info.flow_type_rss_offloads != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
                                         info.flow_type_rss_offloads;
    }
    int rc = rte_eth_dev_configure(handle.id, queues, queues, &conf);
    if (rc != 0) fatal("port " + pc.name + ": configure failed: " + rte_strerror(-rc));
    if (rte_eth_dev_set_mtu(handle.id, pc.mtu) != 0)
      spdlog::warn("port {}: cannot set MTU {}; using the device's", pc.name, pc.mtu);
    int socket = rte_eth_dev_socket_id(handle.id);
    for (uint16_t q = 0; q < queues; ++q) {
      if ((rc = rte_eth_rx_queue_setup(handle.id, q, kRxDescriptors, socket, nullptr, pool_)) != 0 ||
          (rc = rte_eth_tx_queue_setup(handle.id, q, kTxDescriptors, socket, nullptr)) != 0)
        fatal("port " + pc.name + ": queue setup failed: " + rte_strerror(-rc));
    }
    if ((rc = rte_eth_dev_start(handle.id)) != 0)
      fatal("port " + pc.name + ": start failed: " + rte_strerror(-rc));
    rte_eth_macaddr_get(handle.id, &handle.mac);
    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac, sizeof mac, &handle.mac);
    spdlog::info("port {}: {} is DPDK port {}, MAC {}, {} queue(s)", pc.name, pc.device, handle.id,
                 mac, queues);
    ports_.push_back(handle);

    std::string ring = "shoal_ctl_tx" + std::to_string(handle.id);
    rte_ring* r = rte_ring_create(ring.c_str(), kControlTxRingSize, socket,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) fatal("cannot create ring " + ring);
    control_tx_.push_back(r);
  }
  for (std::size_t i = 0; i < config_.ports.size(); ++i) {
    taps_.push_back(config_.ports[i].tap.empty()
                        ? nullptr
                        : std::make_unique<ExceptionPath>(config_, i, ports_[i].mac, pool_));
    if (taps_.back())
      spdlog::info("port {}: exception path {} holds {} for the kernel", config_.ports[i].name,
                   config_.ports[i].tap, to_string(config_.ports[i].addresses.front()));
  }
  std::vector<rte_ether_addr> macs;
  for (const PortHandle& h : ports_) macs.push_back(h.mac);
  vrrp_ = std::make_unique<VrrpRunner>(config_, std::move(macs));
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    // The master takes frames sent to its virtual MAC: the NIC must pass them up. Devices
    // without extra unicast filters (af_packet) pass everything in promiscuous mode; the
    // workers still drop frames to a virtual MAC this director is not master for.
    for (rte_ether_addr vmac : vrrp_->virtual_macs(i)) {
      char text[RTE_ETHER_ADDR_FMT_SIZE];
      rte_ether_format_addr(text, sizeof text, &vmac);
      int rc = rte_eth_dev_mac_addr_add(ports_[i].id, &vmac, 0);
      if (rc == 0) {
        spdlog::info("port {}: receives VRRP virtual MAC {}", config_.ports[i].name, text);
      } else if ((rc = rte_eth_promiscuous_enable(ports_[i].id)) == 0) {
        spdlog::info("port {}: promiscuous, for VRRP virtual MAC {} (no MAC filter to add it to)",
                     config_.ports[i].name, text);
        break;
      } else {
        fatal("port " + config_.ports[i].name + ": can neither add VRRP virtual MAC " + text +
              " nor go promiscuous: " + rte_strerror(-rc));
      }
    }
  }
  to_control_ = rte_ring_create("shoal_to_control", kControlRingSize,
                                static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
  if (to_control_ == nullptr) fatal("cannot create the control ring");
}

void Director::start_workers() {
  publisher_ = std::make_unique<dp::SnapshotPublisher>(config_.workers.count);
  const ConnectionSyncSettings& cs = config_.connection_sync;
  if (cs.enabled) {
    const PortConfig& pc = config_.ports[cs.port];
    try {
      sync_ = std::make_unique<ConnectionSync>(
          cs, config_.workers.flow_timeouts, config_.workers.count, publisher_->qsbr(),
          static_cast<int>(rte_socket_id()), ports_[cs.port].mac, pc.addresses.front().address,
          pc.mtu);
    } catch (const std::exception& e) {
      fatal(std::string("connection sync: ") + e.what());
    }
    spdlog::info("connection sync on port {}: group {}:{}, id {}, table of {} flows, refresh "
                 "every {} s", pc.name, dp::ipv4_to_string(cs.group), cs.udp_port, cs.id,
                 cs.table_size, cs.refresh_ms / 1000.0);
  }
  update_neighbours();
  health_checker_ = std::make_unique<hc::HealthChecker>();
  update_health_targets();
  publish("start");

  dp::WorkerPorts wp;
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    wp.port_ids.push_back(ports_[i].id);
    wp.control_tx.push_back(control_tx_[i]);
  }
  unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  for (uint32_t w = 0; w < config_.workers.count; ++w, lcore = rte_get_next_lcore(lcore, 1, 0)) {
    workers_.push_back(std::make_unique<dp::Worker>(
        w, static_cast<uint16_t>(w), wp, *publisher_, to_control_, workers_stop_,
        config_.workers.flow_table_size, config_.workers.flow_timeouts,
        static_cast<int>(rte_lcore_to_socket_id(lcore))));
    dp::Worker* worker = workers_.back().get();
    if (sync_) worker->attach_sync(sync_->context(w), sync_->walker(w));
    if (rte_eal_remote_launch(dp::Worker::launch, worker, lcore) != 0)
      fatal("cannot launch worker " + std::to_string(w));
    spdlog::info("worker {} on lcore {}: flow table of {} flows ({:.1f} MiB)", w, lcore,
                 worker->flows().capacity(), worker->flows().memory_bytes() / 1048576.0);
  }
}

int Director::run(Signals& signals) {
  start_eal();
  start_ports();
  start_workers();
  start_api();
  announce_addresses();
  start_vrrp();
  spdlog::info("shoald running: {} service(s), {} backend(s), {} worker(s)",
               config_.services.size(), config_.backend_count(), config_.workers.count);
  control_loop(signals);
  spdlog::info("stopping");
  api_server_.reset();  // no request may wait for a control loop that has ended
  api_tcp_.reset();
  stop_vrrp();
  workers_stop_ = true;
  rte_eal_mp_wait_lcore();
  dump_counters();
  return 0;
}

void Director::start_api() {
  // By value: a request the loop has not run within kApiWait may still run after this returns.
  auto on_control_loop = [this](const HttpRequest& r) {
    std::optional<HttpResponse> response =
        api_queue_.run([this, r] { return api_.handle(r); }, kApiWait);
    if (response) return *response;
    return HttpResponse{503, R"({"error":"the control loop did not answer in time"})" "\n"};
  };
  api_server_ = std::make_unique<HttpServer>(config_.api.socket, on_control_loop);
  spdlog::info("API on {}", config_.api.socket);
  if (config_.api.listen.empty()) return;
  const std::string dashboard =
      config_.api.dashboard.empty() ? SHOAL_DASHBOARD_DIR : config_.api.dashboard;
  web_access_ = std::make_unique<WebAccess>(WebAccess::read_token(config_.api.token_file),
                                            dashboard, on_control_loop);
  api_tcp_ = HttpServer::tcp(config_.api.listen,
                             [this](const HttpRequest& r) { return web_access_->handle(r); });
  spdlog::info("API and dashboard on http://{}/ (dashboard files in {})", config_.api.listen,
               dashboard);
}

void Director::control_loop(Signals& signals) {
  rte_mbuf* pkts[32];
  uint32_t last_tick = dp::now_ms();
  uint32_t started = last_tick;
  bool announced_twice = false;
  while (!signals.stop.load()) {
    unsigned n = rte_ring_dequeue_burst(to_control_, reinterpret_cast<void**>(pkts), 32, nullptr);
    for (unsigned i = 0; i < n; ++i) handle_control_frame(pkts[i]);
    n += forward_from_kernel();

    uint32_t now = dp::now_ms();
    if (now - last_tick >= kNeighbourTickMs) {
      last_tick = now;
      bool lost = false;
      for (const Neighbours::Probe& probe : neighbours_.tick(now, lost)) {
        int index = port_index(probe.port);
        if (index < 0) continue;
        uint8_t frame[kArpFrameLen];
        write_arp_request(frame, ports_[static_cast<std::size_t>(index)].mac,
                          config_.ports[static_cast<std::size_t>(index)].addresses.front().address,
                          probe.ip);
        send(static_cast<uint16_t>(index), frame, kArpFrameLen);
      }
      if (lost) snapshot_dirty_ = true;
      update_vrrp_tracks(vrrp_now_ms());
      if (!announced_twice && now - started >= kAnnounceRepeatMs) {
        announce_addresses();
        announced_twice = true;
      }
    }
    apply_health_transitions();
    run_vrrp(vrrp_now_ms());
    if (sync_) run_sync();
    if (snapshot_dirty_) publish("neighbours or health changed");
    if (signals.reload.exchange(false)) metrics_.reloaded(reload().applied);
    if (signals.dump_counters.exchange(false)) dump_counters();
    api_queue_.drain();
    sample_backend_stats();
    if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// What the kernel sent on the exception paths goes out of their ports, through worker 0.
unsigned Director::forward_from_kernel() {
  unsigned total = 0;
  for (std::size_t i = 0; i < taps_.size(); ++i) {
    if (!taps_[i]) continue;
    rte_mbuf* pkts[32];
    const uint16_t n = taps_[i]->from_kernel(pkts, 32);
    const unsigned queued =
        rte_ring_enqueue_burst(control_tx_[i], reinterpret_cast<void**>(pkts), n, nullptr);
    for (unsigned k = queued; k < n; ++k) rte_pktmbuf_free(pkts[k]);
    total += n;
  }
  return total;
}

int Director::port_index(uint16_t dpdk_id) const {
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i].id == dpdk_id) return static_cast<int>(i);
  return -1;
}

bool Director::is_port_address(uint32_t ip) const {
  for (const PortConfig& p : config_.ports)
    for (const Ipv4Prefix& a : p.addresses)
      if (a.address == ip) return true;
  return false;
}

bool Director::owns_address(uint32_t ip) const {
  if (vrrp_ && vrrp_->carries(ip)) return vrrp_->holds(ip);
  if (is_port_address(ip)) return true;
  for (const ServiceConfig& s : config_.services)
    if (s.vip == ip) return true;
  return false;
}

void Director::send(uint16_t port_index, const uint8_t* frame, uint16_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return;
  char* data = rte_pktmbuf_append(m, len);
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(data, frame, len);
  if (rte_ring_enqueue(control_tx_[port_index], m) != 0) rte_pktmbuf_free(m);
}

// The worker stored why it handed the frame over in an mbuf field (see dp::Worker::dispatch).
void Director::handle_control_frame(rte_mbuf* m) {
  auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
  uint32_t len = rte_pktmbuf_data_len(m);
  int index = port_index(m->port);
  dp::ParsedPacket p;
  if (index < 0 || !dp::parse_packet(frame, len, p).ok) {
    rte_pktmbuf_free(m);
    return;
  }
  const auto port = static_cast<std::size_t>(index);
  const PortConfig& pc = config_.ports[port];
  const uint32_t our_ip = pc.addresses.front().address;
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
          write_arp_reply(reply, vrrp_->arp_mac(arp->target_ip, port), arp->target_ip,
                          arp->sender_mac, arp->sender_ip);
          send(static_cast<uint16_t>(index), reply, kArpFrameLen);
        }
        // The kernel learns its neighbours from the same ARP (it answers none itself).
        if (taps_[port]) {
          taps_[port]->to_kernel(m);
          return;
        }
      }
      break;
    case dp::ControlReason::local:
      // The port's own addresses belong to the kernel when it has an exception path; VIPs
      // (pinged) are always answered here: the kernel does not hold them.
      if (taps_[port] && is_port_address(p.dst_ip)) {
        taps_[port]->to_kernel(m);
        return;
      }
      if (make_echo_reply(frame, len, p) && rte_ring_enqueue(control_tx_[port], m) == 0) return;
      break;
    case dp::ControlReason::frag_needed: {
      uint8_t out[kIcmpErrorMaxFrame];
      uint16_t n = write_icmp_error(out, frame, p, our_ip, 3, 4,
                                    static_cast<uint16_t>(pc.mtu - dp::kIpipOverhead));
      if (n != 0) send(static_cast<uint16_t>(index), out, n);
      break;
    }
    case dp::ControlReason::ttl_exceeded: {
      uint8_t out[kIcmpErrorMaxFrame];
      uint16_t n = write_icmp_error(out, frame, p, our_ip, 11, 0, 0);
      if (n != 0) send(static_cast<uint16_t>(index), out, n);
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
        write_arp_request(request, ports_[port].mac, our_ip, p.dst_ip);
        send(static_cast<uint16_t>(index), request, kArpFrameLen);
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

void Director::announce_addresses() {
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    std::vector<uint32_t> addresses;
    for (const Ipv4Prefix& a : config_.ports[i].addresses) addresses.push_back(a.address);
    // VRRP addresses are announced by their instance, from its MAC, when it becomes master
    // (and again after a reload that changed them).
    for (const ServiceConfig& s : config_.services)
      if ((config_.on_link_port(s.vip) == static_cast<int>(i) || config_.on_link_port(s.vip) < 0) &&
          !(vrrp_ && vrrp_->carries(s.vip)))
        addresses.push_back(s.vip);
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    for (uint32_t ip : addresses) {
      uint8_t frame[kArpFrameLen];
      write_arp_request(frame, ports_[i].mac, ip, ip);  // gratuitous: sender = target
      send(static_cast<uint16_t>(i), frame, kArpFrameLen);
    }
  }
}

void Director::publish(const char* why) {
  snapshot_dirty_ = false;
  std::string error;
  dp::SnapshotSpec spec = build_snapshot_spec(config_, ports_, neighbours_, health_, admin_,
                                              vrrp_ ? vrrp_->ownership() : VrrpOwnership{});
  auto snapshot = dp::Snapshot::build(spec, &error);
  if (!snapshot) {
    spdlog::error("cannot build a snapshot ({}): {}", why, error);
    return;
  }
  published_ = std::move(spec);
  if (sync_) sync_->update(published_);
  auto took = publisher_->publish(std::move(snapshot));
  metrics_.published(took);
  spdlog::debug("published a snapshot ({}) in {} us", why, took.count());
}

ReloadResult Director::reload() {
  spdlog::info("reloading {}", config_path_);
  const std::optional<std::string> text = read_file(config_path_);
  LoadResult result = text ? load_config_string(*text, config_path_) : load_config_file(config_path_);
  ReloadResult out{false, std::move(result.errors), std::move(result.warnings)};
  for (const std::string& w : out.warnings) spdlog::warn("{}", w);
  if (!result.config) {
    for (const std::string& e : out.errors) spdlog::error("{}", e);
    spdlog::error("reload refused: {} error(s); still serving the running config",
                  out.errors.size());
    return out;
  }
  Config next = std::move(*result.config);
  // Ports and workers are set up once; changing them takes a restart.
  bool ports_same = next.ports.size() == config_.ports.size();
  for (std::size_t i = 0; ports_same && i < next.ports.size(); ++i)
    ports_same = next.ports[i].device == config_.ports[i].device &&
                 next.ports[i].mtu == config_.ports[i].mtu &&
                 next.ports[i].tap == config_.ports[i].tap;
  if (!ports_same || next.workers.count != config_.workers.count ||
      next.workers.flow_table_size != config_.workers.flow_table_size) {
    out.errors.push_back(fmt::format("{}: reload refused: ports and workers can only change "
                                     "with a restart; still serving the running config",
                                     config_path_));
    spdlog::error("{}", out.errors.back());
    return out;
  }
  if (!(next.connection_sync == config_.connection_sync)) {
    out.errors.push_back(fmt::format("{}: reload refused: connection_sync changes only with a "
                                     "restart; still serving the running config",
                                     config_path_));
    spdlog::error("{}", out.errors.back());
    return out;
  }
  if (auto why = vrrp_->restart_needed(next)) {
    out.errors.push_back(fmt::format("{}: reload refused: {}; still serving the running config",
                                     config_path_, *why));
    spdlog::error("{}", out.errors.back());
    return out;
  }
  if (next.api.socket != config_.api.socket)
    out.warnings.push_back(fmt::format("{}: the API socket changes only with a restart; still "
                                       "on {}", config_path_, config_.api.socket));
  assign_backend_ids(next, &config_);
  config_ = std::move(next);
  running_text_ = *text;
  admin_.retain(config_);
  // New addresses and routes reach the kernel; ones the file no longer has stay until a restart.
  for (std::size_t i = 0; i < taps_.size(); ++i)
    if (taps_[i]) {
      try {
        configure_kernel_interface(taps_[i]->ifname(), config_, i);
      } catch (const std::exception& e) {
        out.warnings.push_back(e.what());
        spdlog::warn("{}", e.what());
      }
    }
  update_health_targets();
  update_neighbours();
  vrrp_->reconfigure(config_, vrrp_now_ms());
  vrrp_->take_changed();  // published just below
  // A newly tracked item starts up in its instance: feed every state again, unchanged ones
  // are ignored there.
  vrrp_tracks_.clear();
  update_vrrp_tracks(vrrp_now_ms());
  publish("reload");
  flush_vrrp();
  announce_addresses();
  spdlog::info("reloaded: {} service(s), {} backend(s)", config_.services.size(),
               config_.backend_count());
  out.applied = true;
  return out;
}

// The next hops the running config needs resolved, and its static entries (the config
// validated that each is on-link).
void Director::update_neighbours() {
  neighbours_.set_wanted(wanted_neighbours(config_, ports_), dp::now_ms());
  for (const NeighbourConfig& n : config_.neighbours) {
    rte_ether_addr mac;
    std::copy(n.mac.begin(), n.mac.end(), mac.addr_bytes);
    int port = std::max(config_.on_link_port(n.address), 0);
    neighbours_.add_static(n.address, ports_[static_cast<std::size_t>(port)].id, mac);
  }
}

// Hands the checker the backends of the running config. Backends that stay keep their state;
// new ones start in their check's initial state.
void Director::update_health_targets() {
  health_checker_->set_targets(health_targets(config_));
  HealthView view;
  for (const ServiceConfig& svc : config_.services) {
    for (const BackendConfig& b : svc.backends) {
      hc::TargetKey key{svc.name, b.name};
      if (auto status = health_checker_->last_result(key)) view[key] = {status->up, status->weight};
    }
  }
  health_ = std::move(view);
}

void Director::apply_health_transitions() {
  for (const hc::Transition& t : health_checker_->take_transitions()) {
    auto it = health_.find(t.key);
    if (it == health_.end()) continue;  // a backend a reload has just removed
    if (t.up)
      spdlog::info("{}", hc::to_string(t));
    else
      spdlog::warn("{}", hc::to_string(t));
    if (t.state_changed) metrics_.health_transition(t.key.service, t.key.backend, t.up);
    it->second.up = t.up;
    if (t.weight) it->second.weight = t.weight;
    snapshot_dirty_ = true;
  }
}

void Director::sample_backend_stats() {
  const auto now = std::chrono::steady_clock::now();
  if (!backend_stats_.due(now)) return;
  std::vector<uint16_t> ids;
  for (const ServiceConfig& s : config_.services)
    for (const BackendConfig& b : s.backends) ids.push_back(b.id);
  std::vector<const dp::WorkerCounters*> counters;
  for (const auto& w : workers_) counters.push_back(&w->counters());
  backend_stats_.sample(ids, counters, now);
}

ReloadResult Director::apply(const std::string& text) {
  LoadResult candidate = load_config_string(text, config_path_);
  if (!candidate.config) return ReloadResult{false, std::move(candidate.errors), std::move(candidate.warnings)};
  const std::string before = read_file(config_path_).value_or(running_text_);
  std::string error;
  if (!write_file(config_path_, text, error)) return ReloadResult{false, {error}, {}};
  spdlog::info("{}: new contents written through the API", config_path_);
  ReloadResult r = reload();
  if (!r.applied && !write_file(config_path_, before, error)) r.errors.push_back(error);
  return r;
}

const dp::BackendSpec* Director::published_backend(uint16_t id) const {
  for (const dp::ServiceSpec& s : published_.services)
    for (const dp::BackendSpec& b : s.backends)
      if (b.id == id) return &b;
  return nullptr;
}

nlohmann::json Director::counters_json() const {
  // Sums into `j`, so that the same call gives one worker's counters and the total.
  auto add = [](const dp::WorkerCounters& c, nlohmann::json& j) {
    auto sum = [](nlohmann::json& into, const std::string& key, uint64_t v) {
      into[key] = into.value(key, uint64_t{0}) + v;
    };
    sum(j, "rx", c.rx.get());
    sum(j, "tx", c.tx.get());
    sum(j, "dropped", c.dropped());
    sum(j, "to_control", c.to_control());
    sum(j, "flows_created", c.flows_created.get());
    sum(j, "flows_rescheduled", c.flows_rescheduled.get());
    sum(j, "flows_claimed", c.flows_claimed.get());
    nlohmann::json& drops = j["drops"];
    nlohmann::json& control = j["control"];
    if (drops.is_null()) drops = control = nlohmann::json::object();
    for (std::size_t r = 0; r < dp::kDropReasonCount; ++r)
      sum(drops, std::string(dp::name(static_cast<dp::DropReason>(r))), c.drops[r].get());
    for (std::size_t r = 0; r < dp::kControlReasonCount; ++r)
      sum(control, std::string(dp::name(static_cast<dp::ControlReason>(r))), c.control[r].get());
  };
  nlohmann::json workers = nlohmann::json::array();
  nlohmann::json total = nlohmann::json::object();
  for (const auto& w : workers_) {
    nlohmann::json j = {{"worker", w->id()}, {"flows", w->flows().size()}};
    add(w->counters(), j);
    add(w->counters(), total);
    workers.push_back(std::move(j));
  }
  total["balanced"] = total.value("rx", uint64_t{0}) ==
                      total.value("tx", uint64_t{0}) + total.value("dropped", uint64_t{0}) +
                          total.value("to_control", uint64_t{0});
  nlohmann::json taps = nlohmann::json::array();
  for (const auto& t : taps_)
    if (t)
      taps.push_back({{"interface", t->ifname()},
                      {"to_kernel", t->to_kernel_count()},
                      {"from_kernel", t->from_kernel_count()},
                      {"dropped", t->dropped_count()}});
  return {{"workers", std::move(workers)}, {"total", std::move(total)},
          {"exception_paths", std::move(taps)}};
}

void Director::dump_counters() const {
  uint64_t rx = 0, tx = 0, drops = 0, control = 0;
  for (const auto& w : workers_) {
    const dp::WorkerCounters& c = w->counters();
    std::string detail;
    for (std::size_t r = 0; r < dp::kDropReasonCount; ++r)
      if (uint64_t v = c.drops[r].get())
        detail += fmt::format(" drop.{}={}", dp::name(static_cast<dp::DropReason>(r)), v);
    for (std::size_t r = 0; r < dp::kControlReasonCount; ++r)
      if (uint64_t v = c.control[r].get())
        detail += fmt::format(" control.{}={}", dp::name(static_cast<dp::ControlReason>(r)), v);
    spdlog::info("counters worker {}: rx={} tx={} dropped={} to_control={} flows={} created={} "
                 "rescheduled={}{}", w->id(), c.rx.get(), c.tx.get(), c.dropped(), c.to_control(),
                 w->flows().size(), c.flows_created.get(), c.flows_rescheduled.get(), detail);
    rx += c.rx.get();
    tx += c.tx.get();
    drops += c.dropped();
    control += c.to_control();
  }
  for (const auto& t : taps_)
    if (t)
      spdlog::info("counters exception path {}: to_kernel={} from_kernel={} dropped={}",
                   t->ifname(), t->to_kernel_count(), t->from_kernel_count(), t->dropped_count());
  if (vrrp_ && !vrrp_->members().empty())
    for (const std::string& line : vrrp_->counter_lines()) spdlog::info("{}", line);
  if (sync_) spdlog::info("counters sync: {}", sync_->counter_line(flows_claimed()));
  spdlog::info("counters total: rx={} tx={} dropped={} to_control={} balanced={}", rx, tx, drops,
               control, rx == tx + drops + control ? "yes" : "NO");
}

void Director::start_vrrp() {
  if (sync_) {
    // No preempting a master before its flows are here: they would break on the takeover.
    vrrp_->hold_preemption(true);
    sync_->start(dp::now_ms());
    run_sync();
  }
  if (vrrp_->members().empty()) return;
  const uint64_t now = vrrp_now_ms();
  update_vrrp_tracks(now);  // an instance whose tracked item is down starts in fault
  vrrp_->start(now);
  flush_vrrp();
}

void Director::run_vrrp(uint64_t now) {
  if (vrrp_->next_deadline_ms() > now) return;
  vrrp_->tick(now);
  flush_vrrp();
}

// Tracked services are down when no real backend is both healthy and enabled; tracked ports
// when their link is.
void Director::update_vrrp_tracks(uint64_t now) {
  std::map<std::string, bool> states;
  for (const VrrpInstanceSettings& v : config_.vrrp.instances) {
    for (const VrrpTrackConfig& t : v.tracks) {
      const std::string key = track_name(t.kind, t.name);
      if (states.count(key)) continue;
      bool up = false;
      if (t.kind == VrrpTrackKind::port) {
        for (std::size_t i = 0; i < config_.ports.size(); ++i) {
          if (config_.ports[i].name != t.name) continue;
          rte_eth_link link{};
          up = rte_eth_link_get_nowait(ports_[i].id, &link) == 0 &&
               link.link_status == RTE_ETH_LINK_UP;
        }
      } else {
        for (const ServiceConfig& s : config_.services) {
          if (s.name != t.name) continue;
          for (const BackendConfig& b : s.backends) {
            const hc::TargetKey key{s.name, b.name};
            const auto h = health_.find(key);
            if (!b.sorry && (h == health_.end() || h->second.up) &&
                admin_.get(key).state != AdminState::disabled)
              up = true;
          }
        }
      }
      states.emplace(key, up);
    }
  }
  for (const auto& [key, up] : states) {
    auto [it, fresh] = vrrp_tracks_.try_emplace(key, up);
    if (!fresh && it->second == up) continue;
    it->second = up;
    if (!fresh || !up) spdlog::info("vrrp: tracked {} is {}", key, up ? "up" : "down");
    vrrp_->track(key, up, now);
  }
  flush_vrrp();
}

void Director::flush_vrrp() {
  // Take (or give up) the addresses first, then tell the segment: a gratuitous ARP must not
  // draw traffic that the workers would still drop as vip_not_owned.
  if (vrrp_->take_changed()) publish("vrrp transition");
  for (const VrrpRunner::Frame& f : vrrp_->take_frames())
    send(static_cast<uint16_t>(f.port), f.bytes.data(), static_cast<uint16_t>(f.bytes.size()));
}

void Director::run_sync() {
  sync_->poll(dp::now_ms());
  const auto port = static_cast<uint16_t>(config_.connection_sync.port);
  for (const std::vector<uint8_t>& f : sync_->take_frames())
    send(port, f.data(), static_cast<uint16_t>(f.size()));
  if (sync_->pull_settled()) vrrp_->hold_preemption(false);
}

uint64_t Director::flows_claimed() const {
  uint64_t claimed = 0;
  for (const auto& w : workers_) claimed += w->counters().flows_claimed.get();
  return claimed;
}

// A clean stop: masters announce priority 0 while worker 0 still drains the control rings.
void Director::stop_vrrp() {
  if (vrrp_->members().empty()) return;
  vrrp_->shutdown(vrrp_now_ms());
  flush_vrrp();
  std::this_thread::sleep_for(std::chrono::milliseconds(kVrrpGoodbyeFlushMs));
}

}  // namespace shoal::cp
