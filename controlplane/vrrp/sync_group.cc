#include "vrrp/sync_group.h"

#include <algorithm>
#include <fmt/format.h>

namespace shoal::cp {

VrrpSyncGroup::VrrpSyncGroup(std::string name, std::vector<VrrpInstance*> members)
    : name_(std::move(name)), members_(std::move(members)) {
  for (VrrpInstance* m : members_) m->hold(true);
}

std::vector<VrrpSyncGroup::MemberAction> VrrpSyncGroup::reconcile(uint64_t now_ms) {
  std::vector<MemberAction> out;
  auto take = [&out](VrrpInstance* m, VrrpInstance::Actions actions) {
    for (VrrpAction& a : actions) out.push_back({m, std::move(a)});
  };

  for (VrrpInstance* m : members_) {
    const auto other = std::find_if(members_.begin(), members_.end(), [m](VrrpInstance* n) {
      return n != m && n->own_fault();
    });
    const bool fault = other != members_.end();
    const std::string reason =
        fault ? fmt::format("sync group {}: {} is in fault", name_, (*other)->config().name)
              : fmt::format("sync group {}: no member is in fault", name_);
    take(m, m->set_group_fault(fault, now_ms, reason));
  }

  const auto not_ready = std::find_if(members_.begin(), members_.end(), [](VrrpInstance* m) {
    return m->state() != VrrpState::master && !m->wants_master();
  });
  if (not_ready == members_.end()) {
    const std::string reason =
        fmt::format("sync group {}: master down timer expired for every member", name_);
    for (VrrpInstance* m : members_) take(m, m->promote(now_ms, reason));
  } else {
    const std::string reason = fmt::format("sync group {}: {} is {}", name_,
                                           (*not_ready)->config().name,
                                           cp::name((*not_ready)->state()));
    for (VrrpInstance* m : members_) take(m, m->demote(now_ms, reason));
  }
  return out;
}

}  // namespace shoal::cp
