#include "dataplane/verdict.h"

namespace shoal::dp {

SHOAL_REASON_NAMES(DropReason, SHOAL_DROP_REASONS)
SHOAL_REASON_NAMES(ControlReason, SHOAL_CONTROL_REASONS)

}  // namespace shoal::dp
