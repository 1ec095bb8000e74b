#include "common/digest.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace crossfarm {
namespace {

TEST(DigestTest, KnownSha256Vectors) {
  EXPECT_EQ(Digest::OfBytes("").Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Digest::OfBytes("abc").ToString(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/3");
}

TEST(DigestTest, ParseRoundTripsAndRejectsGarbage) {
  auto d = Digest::OfBytes("hello");
  auto parsed = Digest::Parse(d.ToString());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, d);
  EXPECT_FALSE(Digest::Parse("nothex/5").has_value());
  EXPECT_FALSE(Digest::Parse(d.Hex()).has_value());
  EXPECT_FALSE(Digest::Parse(d.Hex() + "/12x").has_value());
  EXPECT_FALSE(Digest::Parse(std::string(64, 'g') + "/1").has_value());
}

TEST(DigestTest, FileDigestMatchesBytesDigest) {
  std::string path = testing::TempDir() + "/digest_test_file";
  std::string content(200000, 'x');
  std::ofstream(path, std::ios::binary) << content;
  auto d = Digest::OfFile(path);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, Digest::OfBytes(content));
  std::remove(path.c_str());
  auto missing = Digest::OfFile(path);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace crossfarm
