#include "daemon/ports.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "dataplane/worker/control_reason_field.h"

namespace shoal::cp {
namespace {

constexpr uint16_t kRxDescriptors = 1024;
constexpr uint16_t kTxDescriptors = 1024;
constexpr uint32_t kControlRingSize = 4096;
constexpr uint32_t kControlTxRingSize = 1024;

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

Ports::~Ports() {
  stop();
  for (rte_ring* r : control_tx_) rte_ring_free(r);
  rte_ring_free(to_control_);
  rte_mempool_free(pool_);
  if (eal_started_) rte_eal_cleanup();
}

void Ports::stop() {
  taps_.clear();
  for (const PortHandle& p : handles_) {
    rte_eth_dev_stop(p.id);
    rte_eth_dev_close(p.id);
  }
  handles_.clear();
}

void Ports::start_eal(const Config& config, const std::vector<std::string>& eal_override) {
  std::vector<std::string> args = {"shoald"};
  const std::vector<std::string>& extra = eal_override.empty() ? config.eal : eal_override;
  args.insert(args.end(), extra.begin(), extra.end());
  // Several directors share a lab machine: keep no hugepage files behind (--in-memory), unless
  // the EAL runs without hugepages, where that option is refused.
  if (!has_option(args, {"--no-huge", "--in-memory", "--file-prefix"})) args.push_back("--in-memory");
  if (!has_option(args, {"-l", "-c", "--lcores"})) {
    long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
    // Main lcore plus one per worker, all free to run on any CPU: on a small machine they
    // share, and the workers' adaptive polling leaves room for each other.
    args.push_back("--lcores=(0-" + std::to_string(config.workers.count) + ")@(0-" +
                   std::to_string(cpus - 1) + ")");
  }
  bool any_pci = false;
  for (std::size_t i = 0; i < config.ports.size(); ++i)
    if (!config.ports[i].tap.empty())
      args.push_back("--vdev=" + ExceptionPath::vdev_argument(config, i));
  for (const PortConfig& p : config.ports) {
    if (is_vdev(p.device)) {
      std::string dev = p.device;
      // net_af_packet spreads received flows over its queue pairs (PACKET_FANOUT): one per worker.
      if (dev.rfind("net_af_packet", 0) == 0 && dev.find("qpairs=") == std::string::npos &&
          config.workers.count > 1)
        dev += ",qpairs=" + std::to_string(config.workers.count);
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
  if (rte_lcore_count() < config.workers.count + 1)
    fatal("the EAL has " + std::to_string(rte_lcore_count()) + " lcores; " +
          std::to_string(config.workers.count) + " workers need " +
          std::to_string(config.workers.count + 1));
}

void Ports::start(const Config& config) {
  // Before any mbuf carries a frame to the control loop (workers refuse to start without it).
  dp::register_control_reason_field();
  uint16_t queues = static_cast<uint16_t>(config.workers.count);
  // Every descriptor of every queue, the rings, the exception paths' queues, and headroom.
  uint32_t mbufs = static_cast<uint32_t>(config.ports.size()) * queues *
                       (kRxDescriptors + kTxDescriptors) +
                   kControlRingSize + kControlTxRingSize * config.ports.size() +
                   2048 * static_cast<uint32_t>(config.ports.size()) + 4096;
  pool_ = rte_pktmbuf_pool_create("shoal_mbufs", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) fatal(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno));

  for (const PortConfig& pc : config.ports) {
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
    handles_.push_back(handle);

    std::string ring = "shoal_ctl_tx" + std::to_string(handle.id);
    rte_ring* r = rte_ring_create(ring.c_str(), kControlTxRingSize, socket,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) fatal("cannot create ring " + ring);
    control_tx_.push_back(r);
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i) {
    taps_.push_back(config.ports[i].tap.empty()
                        ? nullptr
                        : std::make_unique<ExceptionPath>(config, i, handles_[i].mac, pool_));
    if (taps_.back())
      spdlog::info("port {}: exception path {} holds the port's addresses for the kernel",
                   config.ports[i].name, config.ports[i].tap);
  }
  to_control_ = rte_ring_create("shoal_to_control", kControlRingSize,
                                static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
  if (to_control_ == nullptr) fatal("cannot create the control ring");
}

PortCounters Ports::counters(std::size_t port, const std::string& name) const {
  PortCounters c;
  c.port = name;
  const uint16_t id = handles_[port].id;
  rte_eth_stats stats{};
  if (rte_eth_stats_get(id, &stats) == 0) {
    c.rx_packets = stats.ipackets;
    c.tx_packets = stats.opackets;
    c.rx_bytes = stats.ibytes;
    c.tx_bytes = stats.obytes;
    c.rx_missed = stats.imissed;
    c.rx_nombuf = stats.rx_nombuf;
    c.rx_errors = stats.ierrors;
    c.tx_errors = stats.oerrors;
  }
  const int n = rte_eth_xstats_get(id, nullptr, 0);
  if (n <= 0) return c;
  std::vector<rte_eth_xstat> values(static_cast<std::size_t>(n));
  std::vector<rte_eth_xstat_name> names(static_cast<std::size_t>(n));
  const int got = rte_eth_xstats_get(id, values.data(), static_cast<unsigned>(n));
  if (got != n || rte_eth_xstats_get_names(id, names.data(), static_cast<unsigned>(n)) != n) return c;
  for (const rte_eth_xstat& x : values)
    if (x.id < names.size()) c.extended.emplace_back(names[x.id].name, x.value);
  return c;
}

int Ports::index_of(uint16_t dpdk_id) const {
  for (std::size_t i = 0; i < handles_.size(); ++i)
    if (handles_[i].id == dpdk_id) return static_cast<int>(i);
  return -1;
}

void Ports::send(std::size_t port, const uint8_t* frame, uint16_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return;
  char* data = rte_pktmbuf_append(m, len);
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(data, frame, len);
  if (!send(port, m)) rte_pktmbuf_free(m);
}

bool Ports::send(std::size_t port, rte_mbuf* m) { return rte_ring_enqueue(control_tx_[port], m) == 0; }

unsigned Ports::forward_from_kernel() {
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

}  // namespace shoal::cp
