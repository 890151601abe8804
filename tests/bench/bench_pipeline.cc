// Micro-benchmark of the packet core's entry point (process_burst) on one core, over
// pre-generated 64-byte frames held in mbufs from a mempool: DR, one VIP:80/tcp, 100 backends
// (--service-ports: or 80 among the listed ports of a multi-port service, or every port).
//
// Scenarios (each measured against a baseline over the same mbufs in the same order, in the
// same run, interleaved, so that the ratio shows what the pipeline costs beyond touching a
// packet at all):
//   - established TCP flows (ACKs, one packet per flow, cycled in random order): 1k and 1M
//     flows, the table sized 1.5x the flows and warmed untimed (a pass of SYNs, one of ACKs);
//     and the 1M flows again through 4096 mbufs reused like an rx ring, reloaded untimed with
//     the next flows before each pass (hot packets: what the flow table costs on its own);
//   - new flows: SYNs from random source addresses and ports, each a new flow, into a table
//     that is filling (empty → 67% full) and into a full one (every insert evicts). Between
//     passes over the set, untimed, every frame gets a fresh source so no packet hits a flow.
//   - new flows under each scheduler (--only schedulers): Maglev and LVS's nine, backends
//     weighing 1 to 4, each SYN a new flow into a filling table, compared with Maglev's rate;
//   - new flows with connection sync (--only syn-sync): the same, the service synced — each
//     new flow is reported on the worker's event ring (drained untimed between passes, as the
//     control thread would on its own core) and first looked up, and missed, in a table of
//     65,536 flows peers pinned.
//   - the same over IPv6 (--only est-small6, est-large6, est-ring6, syn6; in the default run,
//     after the IPv4 rows): an IPv6 DR service fd00::100 port 80/tcp, 100 real servers
//     fd00::11 upwards, clients in 2001:db8::/96; 78-byte frames (Ethernet + IPv6 + TCP, the
//     smallest such frame, with its FCS); the IPv6 flow table (FlowTable6) sized and warmed
//     as the IPv4 one, its baseline reading the IPv6 header's fields.
//   - building a Maglev table (--only maglev-build): M = 65537 for 100 and 1000 backends, equal
//     weights and weights 1 to 4, against the Maglev paper's 1.8 ms (1000 backends, M = 65537).
//     What a config reload or a health flip costs the control plane per service; no packets, so
//     it runs without the EAL when it is the only scenario.
// The baseline reads each packet's headers and swaps its MACs. Both loops restore the
// destination MAC after each burst (DR rewrote it to the backend's; the next pass would see a
// foreign MAC and drop it) and, unless --no-rx-prefetch, prefetch the next burst's mbuf and
// frame the way a NIC driver's rx leaves them warm. Every verdict is checked: a run that
// measured drops is reported as a failure.
#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/flow_sync.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"
#include "dataplane/pipeline.h"
#include "dataplane/scheduler/maglev.h"
#include "dataplane/snapshot.h"

using namespace shoal::dp;

namespace {

constexpr uint32_t kVip = ipv4(10, 0, 0, 100);
constexpr uint32_t kLocal = ipv4(10, 0, 0, 2);
constexpr uint16_t kVipPort = 80;
constexpr uint32_t kBackends = 100;
constexpr uint16_t kFrameLen = 60;  // 64-byte frame on the wire with its FCS
constexpr uint16_t kDataRoom = RTE_PKTMBUF_HEADROOM + 128;  // small: 1M mbufs fit in hugepages
constexpr double kTableHeadroom = 1.5;                      // flow table capacity / flows
const rte_ether_addr kOurMac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const rte_ether_addr kClientMac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

// The IPv6 rows' service: the frame carries the whole header, no padding.
enum class Family { ipv4, ipv6 };
constexpr uint16_t kFrameLen6 = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + sizeof(rte_tcp_hdr);

Ipv6Address ip6(const char* text) {
  Ipv6Address a{};
  if (inet_pton(AF_INET6, text, a.data()) != 1) std::abort();
  return a;
}
const Ipv6Address kVip6 = ip6("fd00::100");
const Ipv6Address kLocal6 = ip6("fd00::2");
const Ipv6Address kClientPrefix6 = ip6("2001:db8::");  // a flow's source: the /96 + Source::ip

// Real server i: fd00::11, fd00::12, ...
Ipv6Address backend_ip6(uint32_t i) {
  Ipv6Address a = ip6("fd00::");
  a[14] = uint8_t((0x11 + i) >> 8);
  a[15] = uint8_t(0x11 + i);
  return a;
}

rte_ether_addr backend_mac(uint32_t i) {
  return {{0x02, 0x00, 0x00, 0x01, uint8_t(i >> 8), uint8_t(i)}};
}

struct Options {
  uint32_t small_flows = 1000;
  uint32_t large_flows = 1'000'000;
  double seconds = 2.0;  // per measurement
  int repeat = 3;        // measurements per scenario (best and median reported)
  uint16_t burst = 32;
  bool rx_prefetch = true;
  bool quick = false;
  bool no_huge = false;
  uint32_t ring = 4096;  // mbufs of the reused-ring variant (0: skip it)
  std::string only;      // comma-separated scenarios; empty: all
  int maglev_builds = 50;  // per case of maglev-build
  // What the service's ports are: 80 alone, 80 among listed ports (a multi-port service: one
  // address-table entry per port), or every port (found through the VIP's entry, after the
  // lookup of the packet's port missed).
  std::string service_ports = "single";
};

[[noreturn]] void usage(int rc) {
  std::printf(
      "usage: shoal_bench_pipeline [options]\n"
      "  --flows N          flows of the large established scenario and size of the SYN set "
      "(default 1000000)\n"
      "  --small-flows N    flows of the small established scenario (default 1000)\n"
      "  --seconds S        duration of each measurement (default 2)\n"
      "  --repeat R         measurements per scenario; best and median are printed (default 3)\n"
      "  --burst B          packets per process_burst call (default 32)\n"
      "  --no-rx-prefetch   do not prefetch the next burst (mbufs come cold from memory)\n"
      "  --ring N           mbufs of the variant of the large scenario that reuses a few\n"
      "                     mbufs like an rx ring, reloaded untimed per pass (default 4096, 0: "
      "skip)\n"
      "  --only LIST        scenarios to run, comma-separated: est-small, est-large, est-ring, "
      "syn, syn-sync, schedulers, maglev-build, and over IPv6 est-small6, est-large6, "
      "est-ring6, syn6\n"
      "  --service-ports P  single (80, default), listed (80, 443, 8000-8100) or every (port 0)\n"
      "  --no-huge          run the EAL without hugepages (slower: 4 KiB pages)\n"
      "  --quick            smoke run of about a second: 100k flows, 0.1 s, 1 repeat, 5 "
      "Maglev builds\n"
      "  --maglev-builds N  tables built per case of maglev-build; best and median are "
      "printed (default 50)\n");
  std::exit(rc);
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool flows_set = false, seconds_set = false, repeat_set = false, builds_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (a == "--flows") {
      o.large_flows = static_cast<uint32_t>(std::strtoul(value(), nullptr, 10));
      flows_set = true;
    } else if (a == "--small-flows") {
      o.small_flows = static_cast<uint32_t>(std::strtoul(value(), nullptr, 10));
    } else if (a == "--seconds") {
      o.seconds = std::strtod(value(), nullptr);
      seconds_set = true;
    } else if (a == "--repeat") {
      o.repeat = std::atoi(value());
      repeat_set = true;
    } else if (a == "--burst") {
      o.burst = static_cast<uint16_t>(std::atoi(value()));
    } else if (a == "--no-rx-prefetch") {
      o.rx_prefetch = false;
    } else if (a == "--ring") {
      o.ring = static_cast<uint32_t>(std::strtoul(value(), nullptr, 10));
    } else if (a == "--only") {
      o.only = value();
    } else if (a == "--service-ports") {
      o.service_ports = value();
      if (o.service_ports != "single" && o.service_ports != "listed" && o.service_ports != "every")
        usage(2);
    } else if (a == "--maglev-builds") {
      o.maglev_builds = std::atoi(value());
      builds_set = true;
    } else if (a == "--no-huge") {
      o.no_huge = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "-h" || a == "--help") {
      usage(0);
    } else {
      std::fprintf(stderr, "shoal_bench_pipeline: unknown option %s\n", a.c_str());
      usage(2);
    }
  }
  if (o.quick) {
    if (!flows_set) o.large_flows = 100'000;
    if (!seconds_set) o.seconds = 0.1;
    if (!repeat_set) o.repeat = 1;
    if (!builds_set) o.maglev_builds = 5;
  }
  if (o.small_flows == 0 || o.large_flows == 0 || o.seconds <= 0 || o.repeat < 1 ||
      o.burst == 0 || o.burst > 256 || o.maglev_builds < 1)
    usage(2);
  return o;
}

// --- EAL -----------------------------------------------------------------------------------

// The CPU this process may run on (taskset), so that the EAL pins its main lcore there.
int current_cpu() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) return c;
  return 0;
}

uint64_t free_hugepage_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t free_pages = 0, page_kb = 0, v;
  while (in >> key >> v) {
    if (key == "HugePages_Free:") free_pages = v;
    if (key == "Hugepagesize:") page_kb = v;
    in.ignore(256, '\n');
  }
  return free_pages * page_kb * 1024;
}

void init_eal(const Options& o, uint64_t need_bytes) {
  std::string core = std::to_string(current_cpu());
  std::string prefix = "shoal-bench-" + std::to_string(::getpid());
  std::vector<std::string> args = {"shoal_bench_pipeline", "-l", core, "--no-pci",
                                   "--file-prefix", prefix, "--log-level=*:error"};
  bool no_huge = o.no_huge;
  uint64_t have = free_hugepage_bytes();
  if (!no_huge && have < need_bytes) {
    std::printf("note: %" PRIu64 " MiB of free hugepages, about %" PRIu64
                " MiB needed: running without hugepages (4 KiB pages, more TLB misses; "
                "scripts/bench.sh reserves enough)\n",
                have >> 20, need_bytes >> 20);
    no_huge = true;
  }
  // --in-memory: hugepages without files in hugetlbfs, released at exit even after a crash.
  // Without hugepages the EAL runs in legacy mode, which --in-memory does not accept.
  args.push_back(no_huge ? "--no-shconf" : "--in-memory");
  if (no_huge) {
    args.push_back("--no-huge");
    args.push_back("-m");
    args.push_back(std::to_string((need_bytes >> 20) + 64));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "shoal_bench_pipeline: EAL initialisation failed: %s\n",
                 rte_strerror(rte_errno));
    std::exit(1);
  }
  std::printf("EAL: lcore %s, %s\n", core.c_str(), no_huge ? "no hugepages" : "hugepages");
}

// --- traffic -------------------------------------------------------------------------------

// A bijection on 48 bits (odd multiplier and xorshifts, both invertible mod 2^48): distinct
// counters give distinct (source address, source port) pairs that look random.
uint64_t mix48(uint64_t x) {
  constexpr uint64_t kMask = (uint64_t(1) << 48) - 1;
  x &= kMask;
  for (int r = 0; r < 3; ++r) {
    x = (x * 0x9e3779b97f4bULL) & kMask;  // odd
    x ^= x >> 23;
  }
  return x;
}

struct Source {
  uint32_t ip;    // network order
  uint16_t port;  // network order
};

Source source_of(uint64_t counter) {
  uint64_t k = mix48(counter);
  return {static_cast<uint32_t>(k >> 16), static_cast<uint16_t>(k)};
}

// Starts a frame of `len` bytes (zeroed: padding included) from the client to us, and sets
// the mbuf's lengths as rx would. Returns the Ethernet header.
rte_ether_hdr* start_frame(rte_mbuf* m, uint16_t len, uint16_t ether_type) {
  auto* d = rte_pktmbuf_mtod(m, uint8_t*);
  std::memset(d, 0, len);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(d);
  eth->dst_addr = kOurMac;
  eth->src_addr = kClientMac;
  eth->ether_type = rte_cpu_to_be_16(ether_type);
  m->data_len = len;
  m->pkt_len = len;
  m->port = 0;
  m->ol_flags = 0;
  return eth;
}

// The TCP header both families carry, to the VIP's port; its checksum is the caller's (it
// covers the family's pseudo-header).
rte_tcp_hdr* write_tcp(void* at, Source s, uint8_t tcp_flags) {
  auto* tcp = static_cast<rte_tcp_hdr*>(at);
  tcp->src_port = s.port;
  tcp->dst_port = be16(kVipPort);
  tcp->sent_seq = rte_cpu_to_be_32(1000);
  tcp->recv_ack = (tcp_flags & kTcpAckFlag) ? rte_cpu_to_be_32(2000) : 0;
  tcp->data_off = 5 << 4;
  tcp->tcp_flags = tcp_flags;
  tcp->rx_win = rte_cpu_to_be_16(65535);
  return tcp;
}

// Writes a complete Ethernet + IPv4 + TCP frame, padded to 60 bytes, with valid checksums.
void write_frame(rte_mbuf* m, Source s, uint8_t tcp_flags) {
  rte_ether_hdr* eth = start_frame(m, kFrameLen, RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr));
  ip->packet_id = s.port;
  ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 64;
  ip->next_proto_id = kIpProtoTcp;
  ip->src_addr = s.ip;
  ip->dst_addr = kVip;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  rte_tcp_hdr* tcp = write_tcp(ip + 1, s, tcp_flags);
  tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
}

// The same over IPv6: Ethernet + IPv6 + TCP (74 bytes, no padding), source address the
// client prefix with s.ip in its last 32 bits, to the IPv6 VIP.
void write_frame6(rte_mbuf* m, Source s, uint8_t tcp_flags) {
  rte_ether_hdr* eth = start_frame(m, kFrameLen6, RTE_ETHER_TYPE_IPV6);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip->payload_len = rte_cpu_to_be_16(sizeof(rte_tcp_hdr));
  ip->proto = kIpProtoTcp;
  ip->hop_limits = 64;
  std::memcpy(ip->src_addr, kClientPrefix6.data(), 12);
  std::memcpy(ip->src_addr + 12, &s.ip, sizeof s.ip);
  std::memcpy(ip->dst_addr, kVip6.data(), 16);
  rte_tcp_hdr* tcp = write_tcp(ip + 1, s, tcp_flags);
  tcp->cksum = rte_ipv6_udptcp_cksum(ip, tcp);
}

// One packet set: mbufs, the flow (source) each carries, and the shuffled order of a pass.
struct PacketSet {
  std::vector<rte_mbuf*> mbufs;  // in allocation (memory) order
  std::vector<rte_mbuf*> order;  // a pass over the set, in random order
  std::vector<Source> sources;   // of mbufs[i]
  Family family = Family::ipv4;

  size_t size() const { return mbufs.size(); }
  void write(uint8_t tcp_flags) {
    auto frame = family == Family::ipv4 ? write_frame : write_frame6;
    for (size_t i = 0; i < mbufs.size(); ++i) frame(mbufs[i], sources[i], tcp_flags);
  }
};

PacketSet make_set(rte_mempool* pool, uint32_t n, uint64_t& counter, std::mt19937_64& rng,
                   Family family = Family::ipv4) {
  PacketSet s;
  s.family = family;
  s.mbufs.resize(n);
  if (rte_pktmbuf_alloc_bulk(pool, s.mbufs.data(), n) != 0) {
    std::fprintf(stderr, "shoal_bench_pipeline: cannot allocate %u mbufs\n", n);
    std::exit(1);
  }
  s.sources.resize(n);
  for (uint32_t i = 0; i < n; ++i) s.sources[i] = source_of(counter++);
  s.order = s.mbufs;
  std::shuffle(s.order.begin(), s.order.end(), rng);
  return s;
}

void free_set(PacketSet& s) {
  rte_pktmbuf_free_bulk(s.mbufs.data(), static_cast<unsigned>(s.mbufs.size()));
  s = {};
}

// --- the two loops -------------------------------------------------------------------------

inline void restore_dst_mac(rte_mbuf** pkts, uint16_t n) {
  for (uint16_t i = 0; i < n; ++i)
    rte_pktmbuf_mtod(pkts[i], rte_ether_hdr*)->dst_addr = kOurMac;
}

// What a NIC driver's rx burst leaves warm: the mbuf (it wrote its fields) and the frame
// (this pool has no private area, so the frame starts right after the headroom, on a cache
// line): its one line for IPv4, its two for IPv6 (the TCP header crosses into the second).
template <uint16_t kFrameLen_>
inline void prefetch_burst(rte_mbuf** pkts, uint16_t n) {
  for (uint16_t i = 0; i < n; ++i) {
    rte_prefetch0(pkts[i]);
    for (uint16_t line = 0; line < kFrameLen_; line += RTE_CACHE_LINE_SIZE)
      rte_prefetch0(reinterpret_cast<char*>(pkts[i] + 1) + RTE_PKTMBUF_HEADROOM + line);
  }
}

volatile uint64_t g_sink;  // keeps the baseline's reads alive

// An IPv6 address's two halves, as the flow table reads them (the frame leaves them unaligned).
inline uint64_t half(const uint8_t* addr, int i) {
  uint64_t w;
  std::memcpy(&w, addr + 8 * i, sizeof w);
  return w;
}

// Reads what any forwarder reads (ethertype, addresses, protocol, ports, length) and swaps
// the MACs: the cost of touching a packet at all. Over the header of its family.
template <Family F>
struct BaselineOf {
  uint64_t acc = 0;
  void operator()(rte_mbuf** pkts, uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
      if constexpr (F == Family::ipv4) {
        const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
        const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(ip + 1);
        acc += eth->ether_type + ip->dst_addr + ip->src_addr + ip->next_proto_id + tcp->src_port +
               tcp->dst_port + tcp->tcp_flags + rte_pktmbuf_data_len(m) + m->port;
      } else {
        const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
        const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(ip + 1);
        acc += eth->ether_type + half(ip->dst_addr, 0) + half(ip->dst_addr, 1) +
               half(ip->src_addr, 0) + half(ip->src_addr, 1) + ip->proto + tcp->src_port +
               tcp->dst_port + tcp->tcp_flags + rte_pktmbuf_data_len(m) + m->port;
      }
      rte_ether_addr tmp = eth->dst_addr;
      eth->dst_addr = eth->src_addr;
      eth->src_addr = tmp;
    }
    restore_dst_mac(pkts, n);
  }
};
using Baseline = BaselineOf<Family::ipv4>;

// A worker's flow tables for one scenario. IPv4: its table alone, as the IPv4 rows always ran
// (no IPv6 table in the burst context). IPv6: the IPv6 table holds the flows, and shares the
// connection counts of a minimal IPv4 table, as a worker's two tables do.
class FlowTables {
 public:
  FlowTables(Family family, uint32_t capacity)
      : v4_(family == Family::ipv4 ? capacity : 1),
        v6_(family == Family::ipv6
                ? std::make_unique<FlowTable6>(capacity, FlowTimeouts{}, -1, &v4_.connections())
                : nullptr) {}
  FlowTable& v4() { return v4_; }
  FlowTable6* v6() { return v6_.get(); }
  const FlowTableStats& stats() const { return v6_ ? v6_->stats() : v4_.stats(); }
  uint32_t size() const { return v6_ ? v6_->size() : v4_.size(); }
  uint32_t capacity() const { return v6_ ? v6_->capacity() : v4_.capacity(); }
  std::size_t memory_bytes() const { return v6_ ? v6_->memory_bytes() : v4_.memory_bytes(); }

 private:
  FlowTable v4_;
  std::unique_ptr<FlowTable6> v6_;
};

class Pipeline {
 public:
  Pipeline(const Snapshot& snap, FlowTables& flows, WorkerCounters& ctr, uint64_t tsc0,
           FlowSyncContext sync = {})
      : snap_(snap),
        flows_(flows.v4()),
        flows6_(flows.v6()),
        ctr_(ctr),
        scheduler_(flows_.connections()),
        tsc0_(tsc0),
        tsc_per_ms_(rte_get_tsc_hz() / 1000),
        sync_(sync) {}

  void operator()(rte_mbuf** pkts, uint16_t n) {
    process(pkts, n);
    restore_dst_mac(pkts, n);
  }
  void process(rte_mbuf** pkts, uint16_t n) {
    // The worker's clock, read once per burst as its loop would.
    uint32_t now_ms = 1000 + static_cast<uint32_t>((rte_rdtsc() - tsc0_) / tsc_per_ms_);
    process_burst(pkts, n, {snap_, flows_, ctr_, scheduler_, now_ms, sync_, flows6_}, verdicts_);
  }
  const Verdict* verdicts() const { return verdicts_; }

 private:
  const Snapshot& snap_;
  FlowTable& flows_;
  FlowTable6* flows6_;  // IPv6 rows only
  WorkerCounters& ctr_;
  WorkerScheduler scheduler_;
  uint64_t tsc0_;
  uint64_t tsc_per_ms_;
  FlowSyncContext sync_;
  Verdict verdicts_[256];
};

struct Sample {
  uint64_t packets = 0;
  uint64_t cycles = 0;
  double ns_per_packet() const { return double(cycles) * 1e9 / double(rte_get_tsc_hz()) / double(packets); }
  double mpps() const { return 1e3 / ns_per_packet(); }
};

// One pass over `order` in bursts of frames of kFrameLen_ bytes; returns the TSC cycles it took.
template <uint16_t kFrameLen_, typename Op>
uint64_t timed_pass(const std::vector<rte_mbuf*>& order, uint16_t burst, bool rx_prefetch, Op& op) {
  rte_mbuf* const* base = order.data();
  size_t n = order.size();
  uint64_t t0 = rte_rdtsc_precise();
  for (size_t pos = 0; pos < n; pos += burst) {
    uint16_t cnt = static_cast<uint16_t>(std::min<size_t>(burst, n - pos));
    if (rx_prefetch && pos + burst < n)
      prefetch_burst<kFrameLen_>(const_cast<rte_mbuf**>(base + pos + burst),
                                 static_cast<uint16_t>(std::min<size_t>(burst, n - pos - burst)));
    op(const_cast<rte_mbuf**>(base + pos), cnt);
  }
  return rte_rdtsc_precise() - t0;
}

// Passes over the set until `seconds` of timed work; `between` runs untimed before each pass.
template <typename Op>
Sample measure(const PacketSet& set, const Options& o, Op& op,
               const std::function<void()>& between = {}) {
  Sample s;
  uint64_t budget = static_cast<uint64_t>(o.seconds * double(rte_get_tsc_hz()));
  do {
    if (between) between();
    s.cycles += set.family == Family::ipv4
                    ? timed_pass<kFrameLen>(set.order, o.burst, o.rx_prefetch, op)
                    : timed_pass<kFrameLen6>(set.order, o.burst, o.rx_prefetch, op);
    s.packets += set.size();
  } while (s.cycles < budget);
  return s;
}

// --- reporting -----------------------------------------------------------------------------

struct Result {
  std::string name;
  std::vector<Sample> samples;
  const Sample& best() const {
    return *std::min_element(samples.begin(), samples.end(), [](auto& a, auto& b) {
      return a.ns_per_packet() < b.ns_per_packet();
    });
  }
  double median_ns() const {
    std::vector<double> v;
    for (auto& s : samples) v.push_back(s.ns_per_packet());
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
};

void print_header() {
  std::printf("\n%-44s %9s %9s %9s %9s %12s\n", "", "Mpps", "Mpps", "ns/pkt", "ns/pkt",
              "vs baseline");
  std::printf("%-44s %9s %9s %9s %9s %12s\n", "scenario", "best", "median", "best", "median",
              "(best)");
}

void print_row(const Result& r, const Result* baseline) {
  double best = r.best().ns_per_packet(), med = r.median_ns();
  std::printf("%-44s %9.2f %9.2f %9.2f %9.2f", r.name.c_str(), 1e3 / best, 1e3 / med, best, med);
  if (baseline) {
    double b = baseline->best().ns_per_packet();
    std::printf("  %5.1fx %+5.1f ns", best / b, best - b);
  }
  std::printf("\n");
  std::fflush(stdout);
}

// Fails the run unless every packet the pipeline saw was transmitted.
bool check_verdicts(const char* what, const WorkerCounters& c) {
  uint64_t rx = c.rx.get(), tx = c.tx.get();
  if (rx == tx) return true;
  std::printf("ERROR (%s): %" PRIu64 " of %" PRIu64 " packets not transmitted:\n", what, rx - tx,
              rx);
  for (size_t r = 0; r < kDropReasonCount; ++r)
    if (c.drops[r].get())
      std::printf("  drop %s: %" PRIu64 "\n", std::string(name(DropReason(r))).c_str(),
                  c.drops[r].get());
  for (size_t r = 0; r < kControlReasonCount; ++r)
    if (c.control[r].get())
      std::printf("  control %s: %" PRIu64 "\n", std::string(name(ControlReason(r))).c_str(),
                  c.control[r].get());
  return false;
}

void print_table_stats(const char* what, const FlowTables& t) {
  const FlowTableStats& s = t.stats();
  std::printf("  flow table (%s): capacity %u (%.1f MiB, %.1f B/flow), size %u, inserted %" PRIu64
              ", expired %" PRIu64 ", evicted syn %" PRIu64 " / established %" PRIu64 "\n",
              what, t.capacity(), double(t.memory_bytes()) / (1 << 20),
              double(t.memory_bytes()) / t.capacity(), t.size(), s.inserted, s.expired,
              s.evicted[size_t(FlowState::syn)], s.evicted[size_t(FlowState::established)]);
}

// --- scenarios -----------------------------------------------------------------------------

// weighted: backend i weighs 1 + i % 4 (the scheduler comparison), else all weigh 1.
// Family::ipv6: the service and its real servers are IPv6 (the port has both local addresses).
std::unique_ptr<Snapshot> make_snapshot(bool sync = false, Scheduler scheduler = Scheduler::maglev,
                                        bool weighted = false,
                                        const std::string& service_ports = "single",
                                        Family family = Family::ipv4) {
  SnapshotSpec spec;
  spec.ports.push_back({kOurMac, kLocal, 1500, {}});
  spec.local_addresses.push_back(kLocal);
  ServiceSpec svc{kVip, be16(kVipPort), kIpProtoTcp, ForwardMode::dr, HashOn::five_tuple,
                  65537, {}};
  if (family == Family::ipv6) {
    spec.ports.back().local_ip6 = kLocal6;
    spec.local_addresses6.push_back(kLocal6);
    svc.vip = 0;
    svc.ipv6 = true;
    svc.vip6 = kVip6;
  }
  svc.sync = sync;
  svc.scheduler = scheduler;
  if (service_ports != "single") svc.port = 0;  // multi-port: backends keep the packet's port
  if (service_ports == "listed") svc.port_ranges = {{kVipPort, kVipPort}, {443, 443}, {8000, 8100}};
  for (uint32_t i = 0; i < kBackends; ++i) {
    spec.next_hops.push_back({0, true, backend_mac(i)});
    BackendSpec b;
    b.id = static_cast<uint16_t>(i);
    if (family == Family::ipv4) {
      b.ip = ipv4(10, 1, uint8_t(i >> 8), uint8_t(i + 1));
    } else {
      b.ipv6 = true;
      b.ip6 = backend_ip6(i);
    }
    b.port = svc.port;
    b.next_hop = i;
    if (weighted) b.weight = 1 + i % 4;
    svc.backends.push_back(b);
  }
  spec.services.push_back(svc);
  std::string error;
  auto snap = Snapshot::build(spec, &error);
  if (!snap) {
    std::fprintf(stderr, "shoal_bench_pipeline: snapshot: %s\n", error.c_str());
    std::exit(1);
  }
  return snap;
}

// Untimed pass through the pipeline (warm-up); checks DR really sent each frame to a backend.
void untimed_pass(PacketSet& set, Pipeline& p, uint16_t burst, bool& ok) {
  for (size_t pos = 0; pos < set.size(); pos += burst) {
    uint16_t cnt = static_cast<uint16_t>(std::min<size_t>(burst, set.size() - pos));
    rte_mbuf** pkts = set.order.data() + pos;
    p.process(pkts, cnt);
    for (uint16_t i = 0; i < cnt; ++i) {
      if (p.verdicts()[i].action != Action::transmit) continue;  // counted by check_verdicts
      const auto* eth = rte_pktmbuf_mtod(pkts[i], const rte_ether_hdr*);
      uint32_t b = uint32_t(eth->dst_addr.addr_bytes[4]) << 8 | eth->dst_addr.addr_bytes[5];
      rte_ether_addr want = backend_mac(b);
      if (b >= kBackends || !rte_is_same_ether_addr(&eth->dst_addr, &want) ||
          !rte_is_same_ether_addr(&eth->src_addr, &kOurMac))
        ok = false;
    }
    restore_dst_mac(pkts, cnt);
  }
}

// What starts the names of a family's rows (and of its errors).
constexpr const char* family_prefix(Family f) {
  return f == Family::ipv6 ? "IPv6 " : "";
}

template <typename A, typename B>
void interleave(const Options& o, Result& base, Result& pipe, A run_base, B run_pipe) {
  for (int r = 0; r < o.repeat; ++r) {
    base.samples.push_back(run_base());
    pipe.samples.push_back(run_pipe());
  }
}

// Established flows. ring == 0: one mbuf per flow, all in memory, a pass visits them in random
// order. ring > 0: `ring` mbufs reused like a NIC's rx ring, loaded untimed before each pass
// with the next flows of a random permutation: warm packets, same 1M-flow table.
// F: the frames' family, which `snap`'s service must be (its rows' names say IPv6).
template <Family F>
bool established(const Options& o, rte_mempool* pool, const Snapshot& snap, uint32_t flows,
                 const char* label, uint32_t ring, uint64_t& counter, std::mt19937_64& rng) {
  const std::string prefix = family_prefix(F);
  const std::string what = prefix + label;
  PacketSet set = make_set(pool, ring ? ring : flows, counter, rng, F);
  std::vector<Source> flow_sources = set.sources;
  std::vector<uint32_t> perm;
  size_t cursor = 0;
  if (ring) {
    set.order = set.mbufs;  // hot anyway; rx order
    flow_sources.resize(flows);
    for (Source& f : flow_sources) f = source_of(counter++);
    perm.resize(flows);
    for (uint32_t i = 0; i < flows; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
  }
  auto load_next = [&](uint8_t flags) {
    for (Source& s : set.sources) {
      s = flow_sources[perm[cursor]];
      if (++cursor == flows) cursor = 0;
    }
    set.write(flags);
  };

  FlowTables table(F, static_cast<uint32_t>(flows * kTableHeadroom));
  WorkerCounters ctr;
  Pipeline pipe(snap, table, ctr, rte_rdtsc());
  bool ok = true;
  // Warm-up, untimed: every flow opens (SYN) and is established (ACK).
  for (uint8_t flags : {kTcpSynFlag, kTcpAckFlag}) {
    if (ring) {
      cursor = 0;
      for (uint32_t done = 0; done < flows; done += ring) {
        load_next(flags);
        untimed_pass(set, pipe, o.burst, ok);
      }
    } else {
      set.write(flags);
      untimed_pass(set, pipe, o.burst, ok);
    }
  }
  if (!ok) std::printf("ERROR (%s): DR did not rewrite the MACs to a backend's\n", what.c_str());
  uint64_t created = ctr.flows_created.get();
  if (created != flows)  // a warm-up SYN evicted: its ACK picked the flow up again
    std::printf("  note (%s): warm-up created %" PRIu64 " flows for %u (evictions while "
                "filling to %.0f%%)\n",
                what.c_str(), created, flows, 100.0 / kTableHeadroom);

  BaselineOf<F> base;
  std::function<void()> between;
  if (ring) between = [&] { load_next(kTcpAckFlag); };
  Result rb{prefix + (ring ? "baseline, " + std::to_string(ring) + " mbufs reloaded (rx ring)"
                           : std::string("baseline, ") + label + " mbufs"),
            {}};
  Result rp{prefix + "DR established, " + label + " flows" + (ring ? ", rx ring" : ""), {}};
  interleave(o, rb, rp, [&] { return measure(set, o, base, between); },
             [&] { return measure(set, o, pipe, between); });
  g_sink = base.acc;
  print_row(rb, nullptr);
  print_row(rp, &rb);
  ok = check_verdicts(rp.name.c_str(), ctr) && ok;
  if (ctr.flows_created.get() != created) {
    std::printf("ERROR (%s): %" PRIu64 " flows created while timed: not all established\n",
                what.c_str(), ctr.flows_created.get() - created);
    ok = false;
  }
  print_table_stats(what.c_str(), table);
  free_set(set);
  return ok;
}

// New flows: SYNs from random sources, every one a flow the table has never seen. Filling: one
// pass of n SYNs into an empty table of 1.5n (to 67%), repeated on a fresh table. Full: the
// table is filled untimed, then every insert has to give a live entry up.
// `sync`: connection sync's side (the snapshot's service synced); its ring is drained untimed
// before each pass. F: as for established().
template <Family F>
bool new_flows(const Options& o, rte_mempool* pool, const Snapshot& snap, uint32_t n,
               const char* label, uint64_t& counter, std::mt19937_64& rng,
               FlowSyncContext sync = {}) {
  PacketSet set = make_set(pool, n, counter, rng, F);
  uint32_t capacity = static_cast<uint32_t>(n * kTableHeadroom);
  const std::string prefix = family_prefix(F);
  const std::string mode = prefix + (sync.events ? "DR+sync" : "DR");
  const std::string what = prefix + "new flows";
  uint64_t reported = 0;
  auto fresh = [&] {  // untimed, before each pass
    for (Source& s : set.sources) s = source_of(counter++);
    set.write(kTcpSynFlag);
    FlowEvent drained[1024];
    if (sync.events)
      while (uint32_t k = sync.events->pop(drained, 1024)) reported += k;
  };
  bool ok = true;
  WorkerCounters ctr;
  uint64_t timed_packets = 0;

  char name[64];
  std::snprintf(name, sizeof name, "%s new flows (SYN), table 0->%.0f%% full", mode.c_str(),
                100.0 / kTableHeadroom);
  Result fill{name, {}};
  FlowTableStats fill_stats;
  uint32_t fill_size = 0;
  for (int r = 0; r < o.repeat; ++r) {
    Options once = o;
    once.seconds = 1e-9;  // exactly one pass
    FlowTables table(F, capacity);
    Pipeline pipe(snap, table, ctr, rte_rdtsc(), sync);
    fill.samples.push_back(measure(set, once, pipe, fresh));
    timed_packets += set.size();
    fill_stats = table.stats();
    fill_size = table.size();
  }

  FlowTables table(F, capacity);
  Pipeline pipe(snap, table, ctr, rte_rdtsc(), sync);
  for (int pass = 0; pass < 2; ++pass) {
    fresh();
    untimed_pass(set, pipe, o.burst, ok);
  }
  if (!ok) std::printf("ERROR (%s): DR did not rewrite the MACs to a backend's\n", what.c_str());
  uint64_t warm_packets = 2ull * set.size();
  FlowTableStats before = table.stats();
  BaselineOf<F> base;
  Result rb{prefix + "baseline, " + label + " SYN mbufs, fresh each pass", {}};
  Result full{mode + " new flows (SYN), table full (evicting)", {}};
  interleave(o, rb, full, [&] { return measure(set, o, base, fresh); },
             [&] { return measure(set, o, pipe, fresh); });
  g_sink = base.acc;
  uint64_t full_packets = 0;
  for (auto& s : full.samples) full_packets += s.packets;
  timed_packets += full_packets;

  print_row(rb, nullptr);
  print_row(fill, &rb);
  print_row(full, &rb);
  ok = check_verdicts(what.c_str(), ctr) && ok;
  uint64_t fill_evicted = 0, full_evicted = 0;
  for (size_t st = 0; st < kFlowStateCount; ++st) {
    fill_evicted += fill_stats.evicted[st];
    full_evicted += table.stats().evicted[st] - before.evicted[st];
  }
  std::printf("  flow table (filling): capacity %u (%.1f MiB, %.1f B/flow), %" PRIu64
              " inserts -> size %u, %" PRIu64 " evicted\n",
              table.capacity(), double(table.memory_bytes()) / (1 << 20),
              double(table.memory_bytes()) / table.capacity(), fill_stats.inserted, fill_size,
              fill_evicted);
  std::printf("  flow table (full): %" PRIu64 " timed inserts, %" PRIu64
              " evicted (%.1f%%: syn %" PRIu64 ", established %" PRIu64 "), %" PRIu64
              " expired\n",
              full_packets, full_evicted, 100.0 * double(full_evicted) / double(full_packets),
              table.stats().evicted[size_t(FlowState::syn)] - before.evicted[size_t(FlowState::syn)],
              table.stats().evicted[size_t(FlowState::established)] -
                  before.evicted[size_t(FlowState::established)],
              table.stats().expired - before.expired);
  uint64_t created = ctr.flows_created.get();
  if (created != timed_packets + warm_packets) {
    std::printf("ERROR (%s): %" PRIu64 " of %" PRIu64 " SYNs created a flow\n", what.c_str(),
                created, timed_packets + warm_packets);
    ok = false;
  }
  if (sync.events) {
    fresh();  // what the last pass reported
    // Every new flow is reported.
    std::printf("  connection sync: %" PRIu64 " events reported, %" PRIu64 " lost to a full "
                "ring\n", reported, sync.events->lost());
    if (reported < created || sync.events->lost() != 0) {
      std::printf("ERROR (new flows, sync): %" PRIu64 " events for %" PRIu64 " flows\n",
                  reported, created);
      ok = false;
    }
  }
  free_set(set);
  return ok;
}

// New flows under each scheduler, 100 backends weighing 1 to 4: one pass of `n` SYNs into an
// empty table (0 → 67% full) per measurement, the schedulers taking turns with the baseline
// in each repeat, so that each compares with Maglev in the same run. The connection-count
// schedulers see their table's counts grow as it fills (every SYN an inactive connection);
// one worker, so no peers' counts to add.
bool schedulers(const Options& o, rte_mempool* pool, uint32_t n, const char* label,
                uint64_t& counter, std::mt19937_64& rng) {
  constexpr Scheduler kAll[] = {Scheduler::maglev, Scheduler::rr,  Scheduler::wrr, Scheduler::lc,
                                Scheduler::wlc,    Scheduler::sed, Scheduler::nq,  Scheduler::sh,
                                Scheduler::dh,     Scheduler::mh};
  PacketSet set = make_set(pool, n, counter, rng);
  auto fresh = [&] {
    for (Source& s : set.sources) s = source_of(counter++);
    set.write(kTcpSynFlag);
  };
  const uint32_t capacity = static_cast<uint32_t>(n * kTableHeadroom);
  std::vector<Result> results;
  for (Scheduler s : kAll) {
    char name[64];
    std::snprintf(name, sizeof name, "new flows, %s, table 0->%.0f%% full",
                  std::string(scheduler_name(s)).c_str(), 100.0 / kTableHeadroom);
    results.push_back({name, {}});
  }
  Result rb{std::string("baseline, ") + label + " SYN mbufs, fresh each pass", {}};
  Options once = o;
  once.seconds = 1e-9;  // exactly one pass
  Baseline base;
  WorkerCounters ctr;
  bool ok = true;
  for (int r = 0; r < o.repeat; ++r) {
    rb.samples.push_back(measure(set, once, base, fresh));
    for (std::size_t i = 0; i < std::size(kAll); ++i) {
      // Built for its pass and freed after it: each snapshot holds an rte_lpm of 64 MiB, and
      // ten at once do not fit in 1 GiB of hugepages beside the 1M mbufs.
      const auto snap = make_snapshot(false, kAll[i], /*weighted=*/true);
      FlowTables table(Family::ipv4, capacity);
      Pipeline pipe(*snap, table, ctr, rte_rdtsc());
      results[i].samples.push_back(measure(set, once, pipe, fresh));
    }
  }
  g_sink = base.acc;
  print_row(rb, nullptr);
  const double maglev_ns = results[0].best().ns_per_packet();
  for (const Result& res : results) {
    print_row(res, &rb);
    std::printf("%-44s new-flow rate %.2fx Maglev's\n", "",
                maglev_ns / res.best().ns_per_packet());
  }
  ok = check_verdicts("schedulers", ctr) && ok;
  // Every backend got new flows (the counters add up over the schedulers).
  uint32_t reached = 0;
  for (uint32_t b = 0; b < kBackends; ++b) reached += ctr.backends[b].new_flows.get() > 0;
  if (reached != kBackends) {
    std::printf("ERROR (schedulers): only %u of %u backends got new flows\n", reached, kBackends);
    ok = false;
  }
  free_set(set);
  return ok;
}

// Building the Maglev table of one service, M = 65537: what each reload or health flip costs
// per service, off the hot path but on the control thread. Ids shaped as the snapshot makes
// them (address << 16 | port). Each case builds its table `maglev_builds` times; the cases
// take turns so that noise from the rest of the machine spreads over all of them.
void maglev_build(const Options& o) {
  struct Case {
    std::string name;
    std::vector<MaglevBackend> backends;
    std::vector<double> ms;
  };
  std::vector<Case> cases;
  for (uint32_t n : {100u, 1000u}) {
    for (bool weighted : {false, true}) {
      Case c{"maglev build, " + std::to_string(n) + " backends, " +
                 (weighted ? "weights 1-4" : "equal weights"),
             {}, {}};
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t ip = ipv4(10, 1, uint8_t(i >> 8), uint8_t(i + 1));
        c.backends.push_back({uint64_t(ip) << 16 | be16(kVipPort), weighted ? 1 + i % 4 : 1});
      }
      cases.push_back(std::move(c));
    }
  }
  uint64_t checksum = 0;
  for (Case& c : cases) checksum += build_maglev(c.backends, kDefaultMaglevSize)[0];  // warm-up
  for (int r = 0; r < o.maglev_builds; ++r) {
    for (Case& c : cases) {
      const auto t0 = std::chrono::steady_clock::now();
      const MaglevTable table = build_maglev(c.backends, kDefaultMaglevSize);
      const auto t1 = std::chrono::steady_clock::now();
      checksum += table[r];
      c.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  g_sink = checksum;
  std::printf("\n%-44s %10s %10s   (%d builds each; the Maglev paper: 1.8 ms for 1000 backends)\n",
              "table build, M = 65537", "ms best", "ms median", o.maglev_builds);
  for (Case& c : cases) {
    std::sort(c.ms.begin(), c.ms.end());
    const size_t k = c.ms.size();
    const double median = k % 2 ? c.ms[k / 2] : (c.ms[k / 2 - 1] + c.ms[k / 2]) / 2;
    std::printf("%-44s %10.3f %10.3f\n", c.name.c_str(), c.ms.front(), median);
  }
  std::fflush(stdout);
}

using Wanted = std::function<bool(const std::string& scenario)>;

// A family's DR rows, each unless --only leaves it out: established flows (small, large, large
// through an rx ring) and new flows. The scenarios' names end in "6" for IPv6.
template <Family F>
bool family_rows(const Options& o, rte_mempool* pool, const Snapshot& snap, const char* small_label,
                 const char* large_label, uint64_t& counter, std::mt19937_64& rng,
                 const Wanted& want) {
  const std::string suffix = F == Family::ipv6 ? "6" : "";
  bool ok = true;
  if (want("est-small" + suffix))
    ok = established<F>(o, pool, snap, o.small_flows, small_label, 0, counter, rng) && ok;
  if (want("est-large" + suffix))
    ok = established<F>(o, pool, snap, o.large_flows, large_label, 0, counter, rng) && ok;
  if (want("est-ring" + suffix) && o.ring)
    ok = established<F>(o, pool, snap, o.large_flows, large_label, o.ring, counter, rng) && ok;
  if (want("syn" + suffix))
    ok = new_flows<F>(o, pool, snap, o.large_flows, large_label, counter, rng) && ok;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  const Wanted want = [&](const std::string& s) {
    return o.only.empty() || ("," + o.only + ",").find("," + s + ",") != std::string::npos;
  };
  if (want("maglev-build")) {
    maglev_build(o);
    if (!o.only.empty() && !want("est-small") && !want("est-large") && !want("est-ring") &&
        !want("syn") && !want("syn-sync") && !want("schedulers") && !want("est-small6") &&
        !want("est-large6") && !want("est-ring6") && !want("syn6"))
      return 0;  // no packets: no EAL, no hugepages
  }
  uint32_t max_set = std::max(o.small_flows, o.large_flows);
  // Per mbuf: the mempool's object (header, rte_mbuf, data room, padding to spread the
  // objects over memory channels) stays under 512 bytes with this data room. Flow tables:
  // one scenario's at a time, at most two of them, the IPv6 one the larger per flow.
  uint64_t need = uint64_t(max_set + 4096) * 512 +
                  uint64_t(double(max_set) * kTableHeadroom * kBytesPerFlow6) * 2 + (64u << 20) +
                  uint64_t(max_set) * 2 * sizeof(FlowEvent) + (32u << 20);  // syn-sync
  init_eal(o, need);

  rte_mempool* pool = rte_pktmbuf_pool_create("bench_pool", max_set + 1024, 0, 0, kDataRoom,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    std::fprintf(stderr, "shoal_bench_pipeline: mbuf pool of %u: %s\n", max_set + 1024,
                 rte_strerror(rte_errno));
    return 1;
  }
  auto snap = make_snapshot(false, Scheduler::maglev, false, o.service_ports);
  const std::string ports_note = o.service_ports == "listed"  ? " (80 among listed ports)"
                                 : o.service_ports == "every" ? " (on every port)"
                                                              : "";
  std::printf("DR service%s, %u backends, Maglev 65537; %u-byte frames; burst %u; TSC %.0f MHz; "
              "%d x %.2f s per measurement%s\n",
              ports_note.c_str(), kBackends, kFrameLen + 4, o.burst, double(rte_get_tsc_hz()) / 1e6, o.repeat,
              o.seconds, o.rx_prefetch ? "; rx prefetch on" : "; rx prefetch off");
  print_header();

  std::mt19937_64 rng(42);
  uint64_t counter = 1;
  char small_label[32], large_label[32];
  auto count_label = [](char* buf, size_t len, uint32_t n) {
    if (n >= 1'000'000 && n % 1'000'000 == 0)
      std::snprintf(buf, len, "%uM", n / 1'000'000);
    else if (n >= 1000 && n % 1000 == 0)
      std::snprintf(buf, len, "%uk", n / 1000);
    else
      std::snprintf(buf, len, "%u", n);
  };
  count_label(small_label, sizeof small_label, o.small_flows);
  count_label(large_label, sizeof large_label, o.large_flows);

  bool ok = family_rows<Family::ipv4>(o, pool, *snap, small_label, large_label, counter, rng, want);
  if (want("syn-sync")) {
    auto synced_snap = make_snapshot(/*sync=*/true, Scheduler::maglev, false, o.service_ports);
    SyncedFlows peers(1u << 17, nullptr, static_cast<int>(rte_socket_id()));
    for (uint32_t i = 0; i < 65536; ++i) {  // flows of other clients: every lookup misses
      FlowKey k{ipv4(172, 16, uint8_t(i >> 8), uint8_t(i)), kVip, be16(40000), be16(kVipPort),
                kIpProtoTcp};
      peers.upsert(k, {0, FlowState::established, 0});
    }
    // A pass reports each SYN's flow (no removal hook here: evictions are not reported).
    uint32_t ring_size = 1;
    while (ring_size < o.large_flows + 1) ring_size <<= 1;
    FlowEventRing events("bench_sync_events", ring_size, static_cast<int>(rte_socket_id()));
    ok = new_flows<Family::ipv4>(o, pool, *synced_snap, o.large_flows, large_label, counter, rng,
                                 {&peers, &events}) &&
         ok;
  }

  if (want("schedulers")) ok = schedulers(o, pool, o.large_flows, large_label, counter, rng) && ok;

  // The IPv6 rows, after every IPv4 one so that those run as they always did.
  if (want("est-small6") || want("est-large6") || (want("est-ring6") && o.ring) || want("syn6")) {
    auto snap6 = make_snapshot(false, Scheduler::maglev, false, o.service_ports, Family::ipv6);
    std::printf("\nIPv6: DR service fd00::100%s, %u real servers from fd00::11; %u-byte frames\n",
                ports_note.c_str(), kBackends, kFrameLen6 + 4);
    print_header();
    ok = family_rows<Family::ipv6>(o, pool, *snap6, small_label, large_label, counter, rng, want) &&
         ok;
  }

  std::printf(ok ? "\nall verdicts transmit\n" : "\nFAILED: see errors above\n");
  snap.reset();
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return ok ? 0 : 1;
}
