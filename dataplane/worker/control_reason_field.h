// Why a worker handed a frame to the control plane travels with the frame, in a named mbuf
// dynamic field of its own: the mbuf's fixed fields belong to drivers and libraries (hash.usr
// shares its bytes with the RSS hash a driver writes), and DPDK hands out dynamic fields'
// space so that no two users collide.
#pragma once

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "dataplane/verdict.h"

namespace shoal::dp {

inline constexpr const char* kControlReasonFieldName = "shoal_control_reason";

namespace detail {
// The field's offset in every mbuf; -1 until registered. Written once at start-up before any
// worker is launched (rte_eal_remote_launch orders it before their reads). cp: wo, dp: ro.
inline int control_reason_offset = -1;
}  // namespace detail

// Registers the field; once after rte_eal_init and before the workers start. Registering
// again is harmless (same offset). Throws std::runtime_error when DPDK refuses, which leaves
// the director unable to tell its control frames apart.
void register_control_reason_field();

inline bool control_reason_field_registered() { return detail::control_reason_offset >= 0; }

// Worker: on a frame it hands over. Control plane: on a frame it takes.
inline void set_control_reason(rte_mbuf* m, ControlReason r) {
  *RTE_MBUF_DYNFIELD(m, detail::control_reason_offset, ControlReason*) = r;
}
inline ControlReason control_reason(const rte_mbuf* m) {
  return *RTE_MBUF_DYNFIELD(m, detail::control_reason_offset, const ControlReason*);
}

}  // namespace shoal::dp
