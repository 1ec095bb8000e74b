// The CAS Cap'n Proto codecs (proto/cas_codec.cc): every decoder on the same
// bytes. Whatever decodes must encode again and decode to the same value
// (Directory and Ref are compared whole, requests and responses by their
// re-encoding), since servers and stores re-encode what they decoded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "proto/cas_types.h"

using namespace crossfarm::proto;
using crossfarm::fuzz::RoundTrip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = crossfarm::fuzz::AsView(data, size);
  RoundTrip(bytes, EncodeDirectory, DecodeDirectory);
  RoundTrip(bytes, EncodeRef, DecodeRef);
  RoundTrip(bytes, EncodeRequest, DecodeRequest);
  RoundTrip(bytes, EncodeResponse, DecodeResponse);
  // A canonical Directory is its own encoding: that is what makes its digest its id.
  if (auto dir = DecodeDirectory(bytes); dir && EncodeDirectory(*dir) != bytes) std::abort();
  return 0;
}
