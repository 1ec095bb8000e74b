// Content digests: SHA-256 (OpenSSL) plus size, as in the REAPI/Buildbarn model.
// Text form "HEX/SIZE" (64 lowercase hex digits, '/', decimal byte count).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace crossfarm {

struct Digest {
  std::array<uint8_t, 32> hash{};
  uint64_t size = 0;

  std::string Hex() const;             // 64 lowercase hex chars
  std::string ToString() const;        // "HEX/SIZE"
  // Parses "HEX/SIZE"; InvalidArgument naming the text otherwise.
  static Result<Digest> Parse(std::string_view text);
  static Result<Digest> FromHex(std::string_view hex, uint64_t size);

  static Digest OfBytes(std::string_view data);
  // Streams the file; IOError/NotFound with the path on failure.
  static Result<Digest> OfFile(const std::string& path);

  auto operator<=>(const Digest&) const = default;
  bool operator==(const Digest&) const = default;
};

// Incremental SHA-256 for streaming (large blobs, cache keys).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // Finishes; the object must not be updated afterwards.
  std::array<uint8_t, 32> Finish();
  std::string FinishHex();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL headers stay out of ours
};

std::string HexEncode(const uint8_t* data, size_t len);
std::string Sha256Hex(std::string_view data);

struct DigestHash {
  size_t operator()(const Digest& d) const noexcept {
    size_t h;
    static_assert(sizeof(h) <= 32);
    __builtin_memcpy(&h, d.hash.data(), sizeof(h));
    return h ^ d.size;
  }
};

}  // namespace crossfarm
