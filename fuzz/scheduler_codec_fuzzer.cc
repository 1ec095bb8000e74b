// The scheduler's Cap'n Proto codecs (proto/scheduler_codec.cc): wire messages
// and the job store's records. Whatever decodes must encode again and decode to
// the same encoding (the scheduler re-encodes stored jobs on every change).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "proto/scheduler_types.h"

using namespace crossfarm::proto;
using crossfarm::fuzz::RoundTrip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = crossfarm::fuzz::AsView(data, size);
  RoundTrip(bytes, EncodeSchedMessage, DecodeSchedMessage);
  RoundTrip(bytes, EncodeStoredJob, DecodeStoredJob);
  RoundTrip(bytes, EncodeStoredBuild, DecodeStoredBuild);
  return 0;
}
