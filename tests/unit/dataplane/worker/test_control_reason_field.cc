// The mbuf field that carries a frame's control reason from a worker to the control plane.
#include <catch2/catch.hpp>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "dataplane/worker/control_reason_field.h"

using namespace shoal::dp;

TEST_CASE("control reason field: registered once, again harmlessly, and carries every reason",
          "[worker]") {
  register_control_reason_field();
  REQUIRE(control_reason_field_registered());
  const int offset = rte_mbuf_dynfield_lookup(kControlReasonFieldName, nullptr);
  REQUIRE(offset >= 0);
  register_control_reason_field();  // the director's start-up may meet a registered field
  CHECK(rte_mbuf_dynfield_lookup(kControlReasonFieldName, nullptr) == offset);

  static rte_mempool* pool = rte_pktmbuf_pool_create("unit_ctl_reason", 63, 0, 0,
                                                     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  REQUIRE(pool != nullptr);
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  REQUIRE(m != nullptr);
  m->hash.usr = 0xffffffff;  // drivers and libraries may write the mbuf's shared fields
  for (std::size_t r = 0; r < kControlReasonCount; ++r) {
    set_control_reason(m, static_cast<ControlReason>(r));
    CHECK(control_reason(m) == static_cast<ControlReason>(r));
  }
  CHECK(m->hash.usr == 0xffffffff);
  rte_pktmbuf_free(m);
}
