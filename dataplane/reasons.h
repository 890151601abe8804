// Named reasons: why a packet or message was dropped or handed on. Each list is one X-macro of
// X(name, "text") entries; the macros below make of it the enum, its count and the printable
// names, so that every counter array indexed by the enum prints the same names and a new
// reason is one line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#define SHOAL_REASON_VALUE_(name, text) name,
#define SHOAL_REASON_ONE_(name, text) +1
#define SHOAL_REASON_NAME_(name, text) #name,
#define SHOAL_REASON_TEXT_(name, text) text,

// In a header: `enum class Enum : uint8_t` with one value per entry of LIST, and `kCount`.
#define SHOAL_REASON_ENUM(Enum, kCount, LIST)                     \
  enum class Enum : uint8_t { LIST(SHOAL_REASON_VALUE_) };        \
  inline constexpr std::size_t kCount = 0 LIST(SHOAL_REASON_ONE_); \
  std::string_view name(Enum r);                                  \
  std::string_view describe(Enum r)

// In the .cc, in the enum's namespace: name() and describe() of every value.
#define SHOAL_REASON_NAMES(Enum, LIST)                                                   \
  std::string_view name(Enum r) {                                                        \
    static constexpr std::string_view kNames[] = {LIST(SHOAL_REASON_NAME_)};             \
    return kNames[static_cast<std::size_t>(r)];                                          \
  }                                                                                      \
  std::string_view describe(Enum r) {                                                    \
    static constexpr std::string_view kTexts[] = {LIST(SHOAL_REASON_TEXT_)};             \
    return kTexts[static_cast<std::size_t>(r)];                                          \
  }
