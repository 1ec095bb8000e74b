// Frames found by fuzz/ (docs/fuzzing.md) that the codecs must refuse quickly.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "proto/cas_types.h"
#include "proto/scheduler_types.h"

namespace crossfarm::proto {
namespace {

std::string ReadData(const std::string& name) {
  std::ifstream in("tests/data/fuzz/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a decoder makes of `bytes` is refused or small: re-encoded, at most a
// few times the frame (a decoded bomb re-encodes to gigabytes).
template <typename Encode, typename Decode>
void ExpectRefusedOrSmall(const std::string& bytes, Encode encode, Decode decode, const char* what) {
  auto decoded = decode(bytes);
  if (decoded) {
    EXPECT_LE(encode(*decoded).size(), 8 * bytes.size()) << what;
  }
}

// ~1 KB frames declaring lists of millions of zero-sized elements: each
// decode ran for minutes and allocated gigabytes under the old fixed
// traversal limit (2^28 words); now the limit follows the frame's size.
TEST(CodecHostileInputTest, ZeroSizedListBombsAreRefusedByTheTraversalLimit) {
  std::string cas = ReadData("cas-codec-zero-sized-lists.bin");
  ASSERT_EQ(cas.size(), 1008u);
  auto resp = DecodeResponse(cas);
  ASSERT_FALSE(resp) << resp->directories.size() << " directories decoded";
  EXPECT_NE(resp.error().message().find("traversal limit"), std::string::npos) << resp.error().ToString();
  ExpectRefusedOrSmall(cas, EncodeRequest, DecodeRequest, "cas request");
  std::string sched = ReadData("scheduler-codec-zero-sized-lists.bin");
  ASSERT_EQ(sched.size(), 736u);
  ExpectRefusedOrSmall(sched, EncodeSchedMessage, DecodeSchedMessage, "scheduler message");
  ExpectRefusedOrSmall(sched, EncodeStoredJob, DecodeStoredJob, "stored job");
  ExpectRefusedOrSmall(sched, EncodeStoredBuild, DecodeStoredBuild, "stored build");
}

}  // namespace
}  // namespace crossfarm::proto
