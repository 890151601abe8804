#include "dataplane/address_table.h"

#include <algorithm>
#include <bit>

namespace shoal::dp {

AddressTable::AddressTable(uint32_t max_entries)
    : slots_(std::bit_ceil(std::max<uint64_t>(16, uint64_t(max_entries) * 2))),
      mask_(static_cast<uint32_t>(slots_.size() - 1)),
      max_entries_(max_entries) {}

bool AddressTable::insert(uint64_t key, uint64_t value) {
  if (size_ >= max_entries_) return false;
  uint32_t i = hash(key) & mask_;
  for (; slots_[i].key != kEmpty; i = (i + 1) & mask_)
    if (slots_[i].key == key) return false;
  slots_[i] = Slot{key, value};
  ++size_;
  return true;
}

AddressTable6::AddressTable6(uint32_t max_entries)
    : slots_(std::bit_ceil(std::max<uint64_t>(16, uint64_t(max_entries) * 2))),
      mask_(static_cast<uint32_t>(slots_.size() - 1)),
      max_entries_(max_entries) {}

bool AddressTable6::insert(const Key& key, uint64_t value) {
  if (size_ >= max_entries_) return false;
  uint32_t i = hash(key) & mask_;
  for (; slots_[i].key.used != 0; i = (i + 1) & mask_)
    if (slots_[i].key == key) return false;
  slots_[i] = Slot{key, value};
  ++size_;
  return true;
}

}  // namespace shoal::dp
