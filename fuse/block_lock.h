// StripedBlockLock: keeps read-modify-write of a partial block from losing a
// concurrent write to the same block.
//
// A write that covers whole blocks can go to the device as is; a write that
// covers part of a block must read the block, patch it and write it back. If
// another write lands on that block in between, the write-back undoes it. So
// every write locks the stripes of the blocks it touches: shared for blocks
// it overwrites whole, exclusive for the edge blocks it patches. Whole-block
// writers run in parallel with each other; a patcher runs alone on its
// stripe. Reads take no lock: a block is written in one request, so a reader
// sees it before or after, never half patched.
//
// Blocks map to stripes in chunks of kChunkBytes, so a large aligned write
// takes few stripes. Unrelated blocks can share a stripe (false sharing costs
// waiting, never correctness). Stripes are always taken in ascending order,
// so two writers cannot deadlock.
//
// Threads: all methods are thread-safe. Ownership: a Guard must not outlive
// its lock.
#ifndef MPIO_FUSE_BLOCK_LOCK_H_
#define MPIO_FUSE_BLOCK_LOCK_H_

#include <cstdint>

#include "engine/base/sync.h"

namespace mpio::fuse {

class StripedBlockLock {
 public:
  static constexpr int kStripes = 64;
  static constexpr uint64_t kChunkBytes = 64 * 1024;

  explicit StripedBlockLock(uint32_t block_size);
  StripedBlockLock(const StripedBlockLock&) = delete;
  StripedBlockLock& operator=(const StripedBlockLock&) = delete;

  // Holds the stripes until destroyed.
  class Guard {
   public:
    Guard(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    Guard& operator=(Guard&&) = delete;
    ~Guard();

   private:
    friend class StripedBlockLock;
    Guard(StripedBlockLock* lock, uint64_t shared, uint64_t exclusive)
        : lock_(lock), shared_(shared), exclusive_(exclusive) {}
    StripedBlockLock* lock_;
    uint64_t shared_;     // bit i: stripe i held shared
    uint64_t exclusive_;  // bit i: stripe i held exclusive
  };

  // Locks blocks [first_block, last_block] shared, except `patch_a` and
  // `patch_b` (block numbers, or kNoBlock), which are locked exclusive.
  static constexpr uint64_t kNoBlock = ~uint64_t{0};
  [[nodiscard]] Guard Lock(uint64_t first_block, uint64_t last_block,
                           uint64_t patch_a, uint64_t patch_b);

 private:
  int StripeOf(uint64_t block) const;

  uint64_t blocks_per_chunk_;
  SharedMutex stripes_[kStripes];
};

}  // namespace mpio::fuse

#endif  // MPIO_FUSE_BLOCK_LOCK_H_
