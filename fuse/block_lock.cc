#include "fuse/block_lock.h"

#include <algorithm>

namespace mpio::fuse {

StripedBlockLock::StripedBlockLock(uint32_t block_size)
    : blocks_per_chunk_(std::max<uint64_t>(1, kChunkBytes / block_size)) {}

int StripedBlockLock::StripeOf(uint64_t block) const {
  return static_cast<int>((block / blocks_per_chunk_) % kStripes);
}

StripedBlockLock::Guard StripedBlockLock::Lock(uint64_t first_block,
                                               uint64_t last_block,
                                               uint64_t patch_a,
                                               uint64_t patch_b) {
  uint64_t touched = 0;
  const uint64_t first_chunk = first_block / blocks_per_chunk_;
  const uint64_t last_chunk = last_block / blocks_per_chunk_;
  if (last_chunk - first_chunk + 1 >= kStripes) {
    touched = ~uint64_t{0};
  } else {
    for (uint64_t c = first_chunk; c <= last_chunk; ++c) {
      touched |= uint64_t{1} << (c % kStripes);
    }
  }
  uint64_t exclusive = 0;
  if (patch_a != kNoBlock) exclusive |= uint64_t{1} << StripeOf(patch_a);
  if (patch_b != kNoBlock) exclusive |= uint64_t{1} << StripeOf(patch_b);
  const uint64_t shared = touched & ~exclusive;
  // Ascending stripe order for every caller: no lock-order cycles.
  for (int i = 0; i < kStripes; ++i) {
    const uint64_t bit = uint64_t{1} << i;
    if (exclusive & bit) {
      stripes_[i].Lock();
    } else if (shared & bit) {
      stripes_[i].ReaderLock();
    }
  }
  return Guard(this, shared, exclusive);
}

StripedBlockLock::Guard::Guard(Guard&& other) noexcept
    : lock_(other.lock_), shared_(other.shared_), exclusive_(other.exclusive_) {
  other.lock_ = nullptr;
}

StripedBlockLock::Guard::~Guard() {
  if (lock_ == nullptr) return;
  for (int i = StripedBlockLock::kStripes - 1; i >= 0; --i) {
    const uint64_t bit = uint64_t{1} << i;
    if (exclusive_ & bit) {
      lock_->stripes_[i].Unlock();
    } else if (shared_ & bit) {
      lock_->stripes_[i].ReaderUnlock();
    }
  }
}

}  // namespace mpio::fuse
