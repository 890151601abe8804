#include "dataplane/verdict.h"

namespace shoal::dp {
namespace {

constexpr std::array<std::string_view, kDropReasonCount> kDropNames = {
#define X(name, text) #name,
    SHOAL_DROP_REASONS(X)
#undef X
};
constexpr std::array<std::string_view, kDropReasonCount> kDropTexts = {
#define X(name, text) text,
    SHOAL_DROP_REASONS(X)
#undef X
};
constexpr std::array<std::string_view, kControlReasonCount> kControlNames = {
#define X(name, text) #name,
    SHOAL_CONTROL_REASONS(X)
#undef X
};
constexpr std::array<std::string_view, kControlReasonCount> kControlTexts = {
#define X(name, text) text,
    SHOAL_CONTROL_REASONS(X)
#undef X
};

}  // namespace

std::string_view name(DropReason r) { return kDropNames[static_cast<std::size_t>(r)]; }
std::string_view describe(DropReason r) { return kDropTexts[static_cast<std::size_t>(r)]; }
std::string_view name(ControlReason r) { return kControlNames[static_cast<std::size_t>(r)]; }
std::string_view describe(ControlReason r) { return kControlTexts[static_cast<std::size_t>(r)]; }

}  // namespace shoal::dp
