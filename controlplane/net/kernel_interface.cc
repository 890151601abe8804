#include "net/kernel_interface.h"

#include <linux/if_addr.h>
#include <net/if.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <fstream>
#include <memory>
#include <stdexcept>

namespace shoal::cp {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Socket = std::unique_ptr<nl_sock, Deleter<nl_sock, nl_socket_free>>;
using Address = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using Link = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using RtAddr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using Route = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;

[[noreturn]] void fail(const std::string& ifname, const std::string& what, int nl_error = 0) {
  throw std::runtime_error("exception path " + ifname + ": " + what +
                           (nl_error ? std::string(": ") + nl_geterror(nl_error) : ""));
}

Address ipv4(uint32_t address_nbo, uint8_t length) {
  Address a(nl_addr_build(AF_INET, &address_nbo, sizeof address_nbo));
  nl_addr_set_prefixlen(a.get(), length);
  return a;
}

Address ipv6(const dp::Ipv6Address& address, uint8_t length) {
  Address a(nl_addr_build(AF_INET6, address.data(), address.size()));
  nl_addr_set_prefixlen(a.get(), length);
  return a;
}

void write_sysctl(const std::string& ifname, const std::string& path, const char* value) {
  std::ofstream f(path);
  if (!(f << value)) fail(ifname, "cannot write " + path);
}

// A route to `dst` through the on-link `via`, of dst's family.
void add_route(nl_sock* sock, const std::string& ifname, int ifindex, const Address& dst,
               const Address& via, const std::string& what) {
  Route route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), nl_addr_get_family(dst.get()));
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();  // owned by the route once added
  rtnl_route_nh_set_ifindex(hop, ifindex);
  rtnl_route_nh_set_gateway(hop, via.get());
  rtnl_route_add_nexthop(route.get(), hop);
  if (int rc = rtnl_route_add(sock, route.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0)
    fail(ifname, "cannot add " + what, rc);
}

void add_route(nl_sock* sock, const std::string& ifname, int ifindex, const Ipv4Prefix& dst,
               uint32_t via) {
  add_route(sock, ifname, ifindex, ipv4(dst.address, dst.length), ipv4(via, 32),
            "the route to " + to_string(dst));
}

void add_route(nl_sock* sock, const std::string& ifname, int ifindex, const Ipv6Prefix& dst,
               const dp::Ipv6Address& via) {
  const std::string what =
      dst.length == 0 ? std::string("the IPv6 default route") : "the route to " + to_string(dst);
  add_route(sock, ifname, ifindex, ipv6(dst.address, dst.length), ipv6(via, 128), what);
}

}  // namespace

void configure_kernel_interface(const std::string& ifname, const Config& config,
                                std::size_t port) {
  const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) fail(ifname, "no such interface");
  const PortConfig& pc = config.ports[port];
  write_sysctl(ifname, "/proc/sys/net/ipv4/conf/" + ifname + "/arp_ignore", "8");
  // IPv6 only where the port has IPv6 addresses, and then without router advertisements or
  // address autoconfiguration (configured routes win) and without duplicate address detection:
  // the director's dataplane owns these addresses already, and DAD would hold them back a second.
  const std::string v6 = "/proc/sys/net/ipv6/conf/" + ifname + "/";
  if (pc.addresses6.empty()) {
    write_sysctl(ifname, v6 + "disable_ipv6", "1");
  } else {
    write_sysctl(ifname, v6 + "accept_ra", "0");
    write_sysctl(ifname, v6 + "autoconf", "0");
    write_sysctl(ifname, v6 + "accept_dad", "0");
    write_sysctl(ifname, v6 + "disable_ipv6", "0");
  }

  Socket sock(nl_socket_alloc());
  if (!sock) fail(ifname, "cannot allocate a netlink socket");
  if (int rc = nl_connect(sock.get(), NETLINK_ROUTE); rc < 0) fail(ifname, "netlink", rc);

  rtnl_link* raw = nullptr;
  if (int rc = rtnl_link_get_kernel(sock.get(), ifindex, nullptr, &raw); rc < 0)
    fail(ifname, "cannot read the link", rc);
  Link link(raw), up(rtnl_link_alloc());
  rtnl_link_set_flags(up.get(), IFF_UP);
  if (int rc = rtnl_link_change(sock.get(), link.get(), up.get(), 0); rc < 0)
    fail(ifname, "cannot bring it up", rc);

  for (const Ipv4Prefix& p : pc.addresses) {
    RtAddr addr(rtnl_addr_alloc());
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    Address local = ipv4(p.address, p.length);
    rtnl_addr_set_local(addr.get(), local.get());
    if (int rc = rtnl_addr_add(sock.get(), addr.get(), NLM_F_REPLACE); rc < 0 && rc != -NLE_EXIST)
      fail(ifname, "cannot add address " + to_string(p), rc);
  }
  for (const RouteConfig& r : config.routes)
    if (config.on_link_port(r.via) == static_cast<int>(port))
      add_route(sock.get(), ifname, ifindex, r.prefix, r.via);
  if (pc.gateway) add_route(sock.get(), ifname, ifindex, Ipv4Prefix{0, 0}, *pc.gateway);
  for (const Ipv6Prefix& p : pc.addresses6) {
    RtAddr addr(rtnl_addr_alloc());
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    Address local = ipv6(p.address, p.length);
    rtnl_addr_set_local(addr.get(), local.get());
    rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    if (int rc = rtnl_addr_add(sock.get(), addr.get(), NLM_F_REPLACE); rc < 0 && rc != -NLE_EXIST)
      fail(ifname, "cannot add address " + to_string(p), rc);
  }
  for (const Route6Config& r : config.routes6)
    if (config.on_link_port(r.via) == static_cast<int>(port))
      add_route(sock.get(), ifname, ifindex, r.prefix, r.via);
  if (pc.gateway6) add_route(sock.get(), ifname, ifindex, Ipv6Prefix{{}, 0}, *pc.gateway6);
}

}  // namespace shoal::cp
