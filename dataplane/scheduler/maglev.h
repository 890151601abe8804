// Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016) as a pure function of the
// backend set: (backends, M) → table. Every director with the same config computes the same
// table, so a flow reaches the same backend whichever director (or worker) sees it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace shoal::dp {

inline constexpr uint32_t kDefaultMaglevSize = 65537;  // prime; must be > 100 x backends
inline constexpr uint16_t kMaglevEmpty = 0xffff;        // slot value when no backend has weight

struct MaglevBackend {
  uint64_t id = 0;      // stable identity (address and port): decides the permutation
  uint32_t weight = 0;  // 0 = drained: gets no slot
};

// slot → index into the backends span the table was built from.
class MaglevTable {
 public:
  MaglevTable() = default;
  MaglevTable(std::vector<uint16_t> slots, std::vector<uint64_t> ids)
      : slots_(std::move(slots)), ids_(std::move(ids)) {}

  uint32_t size() const { return static_cast<uint32_t>(slots_.size()); }
  bool empty() const { return slots_.empty() || slots_[0] == kMaglevEmpty; }
  // Index (into the input backends) that owns `slot`, or kMaglevEmpty.
  uint16_t operator[](uint32_t slot) const { return slots_[slot]; }
  // Index for a flow hash: the hot-path lookup.
  uint16_t pick(uint32_t hash) const { return slots_[hash % slots_.size()]; }
  // Stable id of the backend owning `slot`; used to compare tables built from different lists.
  uint64_t id_at(uint32_t slot) const;
  const std::vector<uint16_t>& slots() const { return slots_; }

 private:
  std::vector<uint16_t> slots_;
  std::vector<uint64_t> ids_;  // ids_[i] = backends[i].id at build time
};

bool is_prime(uint32_t n);

// Builds the table. `table_size` must be prime (checked by the caller's validation; asserted
// here), backends at most 65535 with distinct ids. Deterministic whatever the order of
// `backends`: the result maps to the same ids slot by slot.
MaglevTable build_maglev(std::span<const MaglevBackend> backends,
                         uint32_t table_size = kDefaultMaglevSize);

// Fraction of slots (0..1) whose owning backend id differs between two tables; 1.0 when
// their sizes differ.
double changed_fraction(const MaglevTable& a, const MaglevTable& b);

}  // namespace shoal::dp
