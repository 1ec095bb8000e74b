// Helpers shared by the libFuzzer targets: turning one fuzz input into files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/fs_util.h"

namespace crossfarm::fuzz {

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A scratch directory for one run, on /dev/shm when there is one: the targets
// that read files write every input to disk, so a RAM-backed directory keeps
// them at thousands of runs a second.
inline worker::TempDir ScratchDir(std::string_view prefix) {
  auto dir = worker::TempDir::Create(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "", prefix);
  if (!dir) std::abort();  // no scratch space: nothing to fuzz
  return std::move(*dir);
}

inline void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Two inputs in one ("A<kSplit>B"): for comparisons. Without the marker both are A.
inline constexpr std::string_view kSplit = "\n@@CFSPLIT@@\n";
inline std::pair<std::string_view, std::string_view> SplitTwo(std::string_view in) {
  size_t at = in.find(kSplit);
  if (at == std::string_view::npos) return {in, in};
  return {in.substr(0, at), in.substr(at + kSplit.size())};
}

// For codecs: whatever `decode` accepts must encode to bytes that decode again
// and encode the same (servers and stores re-encode what they decoded).
// Aborts (a finding) otherwise.
template <typename Encode, typename Decode>
void RoundTrip(std::string_view bytes, Encode encode, Decode decode) {
  auto first = decode(bytes);
  if (!first) return;
  std::string again = encode(*first);
  auto second = decode(again);
  if (!second) std::abort();
  if (encode(*second) != again) std::abort();
}

}  // namespace crossfarm::fuzz
