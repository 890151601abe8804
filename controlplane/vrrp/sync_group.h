// keepalived's vrrp_sync_group: virtual routers that must be master on the same director
// together (a NAT service's VIP and the internal gateway address its real servers route
// through, say), or else replies leave by a director that did not see the request.
//
// The rule, kept simple: a member in fault puts every other member in fault (until no member
// has a fault of its own); no member becomes master until every member would (each one's
// Master_Down_Timer has fired, or it is master already); and while one member is backup
// (some peer is master for it), a master member steps down, announcing priority 0 so that
// the peer director takes that one over after Skew_Time too. Members are held (see
// VrrpInstance::hold()), so that reconcile() decides every promotion.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrrp/instance.h"

namespace shoal::cp {

class VrrpSyncGroup {
 public:
  struct MemberAction {
    VrrpInstance* member;
    VrrpAction action;
  };

  // The members outlive the group; the caller routes their events to them as usual.
  VrrpSyncGroup(std::string name, std::vector<VrrpInstance*> members);

  // Call after any event delivered to a member; returns what the members must do as a
  // consequence, in order.
  std::vector<MemberAction> reconcile(uint64_t now_ms);

  const std::string& name() const { return name_; }
  const std::vector<VrrpInstance*>& members() const { return members_; }

 private:
  std::string name_;
  std::vector<VrrpInstance*> members_;
};

}  // namespace shoal::cp
