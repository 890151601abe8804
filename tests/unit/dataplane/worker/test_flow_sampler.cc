// FlowSampler (dataplane/worker/flow_sampler.*): a sample covers the IPv4 table, then the IPv6
// one; a filter of one family leaves the other table out; the limit counts both.
#include <catch2/catch.hpp>

#include "dataplane/flow_table.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker/flow_sampler.h"

using namespace shoal::dp;

namespace {

Ipv6Address fd00(uint8_t low) {
  Ipv6Address a{0xfd, 0x00};
  a[15] = low;
  return a;
}

// Runs the sampler to its end, one step at a time, as the worker does.
void sample(FlowSampler& s, const FlowFilter& f, const FlowTable& t, const FlowTable6& t6) {
  REQUIRE(s.start(f));
  for (int i = 0; i < 1000 && !s.done(); ++i) s.step(t, t6, 0);
  REQUIRE(s.done());
}

}  // namespace

TEST_CASE("flow sampler: both families, filtered by one", "[sampler]") {
  FlowTable t(64);
  FlowTable6 t6(64);
  const uint32_t vip = ipv4(10, 0, 0, 100);
  for (uint16_t p = 1; p <= 3; ++p) {
    const FlowKey k{ipv4(10, 0, 0, 1), vip, be16(p), be16(80), 6};
    t.insert(k, FlowTable::hash(k), 1, FlowState::established, 0);
    const FlowKey6 k6{fd00(1), fd00(0x10), be16(p), be16(80), 6};
    t6.insert(k6, FlowTable6::hash(k6), 2, FlowState::established, 0);
  }
  const FlowKey6 other{fd00(2), fd00(0x10), be16(9), be16(80), 6};
  t6.insert(other, FlowTable6::hash(other), 2, FlowState::established, 0);

  FlowSampler s;
  sample(s, {}, t, t6);
  CHECK(s.result().size() == 3);
  CHECK(s.result6().size() == 4);

  FlowFilter v6;
  v6.ipv4 = false;
  v6.client6 = fd00(2);
  sample(s, v6, t, t6);
  CHECK(s.result().empty());
  REQUIRE(s.result6().size() == 1);
  CHECK(s.result6()[0].src_port == be16(9));

  FlowFilter v4;
  v4.ipv6 = false;
  v4.vip = vip;
  sample(s, v4, t, t6);
  CHECK(s.result().size() == 3);
  CHECK(s.result6().empty());

  FlowFilter few;
  few.limit = 5;
  sample(s, few, t, t6);
  CHECK(s.result().size() + s.result6().size() == 5);
}
