#include "common/digest.h"

#include <openssl/evp.h>

#include <charconv>
#include <cstdio>
#include <memory>

namespace crossfarm {

std::string HexEncode(const uint8_t* data, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '\0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::array<uint8_t, 32> Sha256::Finish() {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len);
  return out;
}

std::string Sha256::FinishHex() {
  auto h = Finish();
  return HexEncode(h.data(), h.size());
}

std::string Sha256Hex(std::string_view data) {
  Sha256 s;
  s.Update(data);
  return s.FinishHex();
}

std::string Digest::Hex() const { return HexEncode(hash.data(), hash.size()); }

std::string Digest::ToString() const { return Hex() + "/" + std::to_string(size); }

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Digest> Digest::FromHex(std::string_view hex, uint64_t size) {
  if (hex.size() != 64)
    return Err(Status::InvalidArgument("digest hash '" + std::string(hex) +
                                       "' must be 64 hex digits"));
  Digest d;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return Err(Status::InvalidArgument("digest hash '" + std::string(hex) +
                                         "' contains a non-hex character"));
    d.hash[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  d.size = size;
  return d;
}

Result<Digest> Digest::Parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return Err(Status::InvalidArgument("digest '" + std::string(text) +
                                       "' is not of the form HASH/SIZE"));
  uint64_t size = 0;
  auto sz = text.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(sz.data(), sz.data() + sz.size(), size);
  if (ec != std::errc() || ptr != sz.data() + sz.size() || sz.empty())
    return Err(Status::InvalidArgument("digest '" + std::string(text) +
                                       "' has a bad size after '/'"));
  return FromHex(text.substr(0, slash), size);
}

Digest Digest::OfBytes(std::string_view data) {
  Sha256 s;
  s.Update(data);
  Digest d;
  d.hash = s.Finish();
  d.size = data.size();
  return d;
}

Result<Digest> Digest::OfFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Err(Status::FromErrno("open " + path, errno));
  Sha256 s;
  Digest d;
  std::string buf(1 << 16, '\0');
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    s.Update(std::string_view(buf.data(), n));
    d.size += n;
  }
  if (std::ferror(f.get())) return Err(Status::FromErrno("read " + path, errno));
  d.hash = s.Finish();
  return d;
}

}  // namespace crossfarm
