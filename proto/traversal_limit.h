// Cap'n Proto's traversal limit for decoding one message of `bytes` bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace crossfarm::proto {

// Our encoders write no zero-sized list elements and no shared pointers, so
// decoding a message we wrote traverses at most its own words. A fixed large
// limit let a 1 KB frame declare lists of millions of zero-sized elements
// (each counted as one word, yet taking no bytes): decoding then ran for
// minutes and allocated gigabytes (found by fuzz/cas_codec_fuzzer and
// fuzz/scheduler_codec_fuzzer). Four times the size leaves room for reads
// that visit a pointer twice.
inline uint64_t TraversalLimitFor(size_t bytes) {
  return std::max<uint64_t>(4 * (bytes / 8), 1024);
}

}  // namespace crossfarm::proto
