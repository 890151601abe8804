#include "dataplane/worker/control_reason_field.h"

#include <rte_errno.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace shoal::dp {

void register_control_reason_field() {
  rte_mbuf_dynfield field{};
  std::snprintf(field.name, sizeof field.name, "%s", kControlReasonFieldName);
  field.size = sizeof(ControlReason);
  field.align = alignof(ControlReason);
  const int offset = rte_mbuf_dynfield_register(&field);
  if (offset < 0)
    throw std::runtime_error(std::string("cannot register the mbuf field ") +
                             kControlReasonFieldName + ": " + rte_strerror(rte_errno));
  detail::control_reason_offset = offset;
}

}  // namespace shoal::dp
