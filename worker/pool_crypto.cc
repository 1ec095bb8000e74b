#include "worker/pool_crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "common/digest.h"

namespace crossfarm::worker {

namespace {

constexpr size_t kTagBytes = 16;
constexpr size_t kIvBytes = 12;
// Plaintext per record: one recv of the plain side. Records longer than this
// (plus the tag) are refused before any allocation.
constexpr size_t kMaxPlain = 64 * 1024;

std::string Hmac(std::string_view key, std::string_view message) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

// Writes all of `data`, waiting for room with poll so that a peer that stops
// reading (a hung gateway, a dead proxy) cannot hold the splice past `stop_fd`:
// a blocking send would ignore the cancel and hang its thread for ever.
bool SendAll(int fd, const unsigned char* data, size_t len, int stop_fd) {
  while (len > 0) {
    ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p[2] = {{fd, POLLOUT, 0}, {stop_fd, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0 && errno != EINTR) return false;
      if (p[1].revents) return false;
      continue;
    }
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void PutBigEndian(unsigned char* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, value >>= 8) out[i] = static_cast<unsigned char>(value & 0xff);
}

// One direction of a connection: its key, its record counter.
class RecordCipher {
 public:
  RecordCipher(const std::string& key, bool seal) : ctx_(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free), seal_(seal) {
    auto* k = reinterpret_cast<const unsigned char*>(key.data());
    ok_ = ctx_ && key.size() == 32 &&
          (seal ? EVP_EncryptInit_ex(ctx_.get(), EVP_aes_256_gcm(), nullptr, k, nullptr)
                : EVP_DecryptInit_ex(ctx_.get(), EVP_aes_256_gcm(), nullptr, k, nullptr)) == 1;
  }

  // [length][ciphertext][tag] of `plain` appended to `out`.
  bool Seal(const unsigned char* plain, size_t len, std::string& out) {
    unsigned char head[4];
    PutBigEndian(head, len + kTagBytes, 4);
    size_t at = out.size();
    out.resize(at + 4 + len + kTagBytes);
    auto* rec = reinterpret_cast<unsigned char*>(out.data()) + at;
    std::copy(head, head + 4, rec);
    int n = 0, tail = 0;
    return Start() && EVP_EncryptUpdate(ctx_.get(), nullptr, &n, head, 4) == 1 &&
           EVP_EncryptUpdate(ctx_.get(), rec + 4, &n, plain, static_cast<int>(len)) == 1 &&
           EVP_EncryptFinal_ex(ctx_.get(), rec + 4 + n, &tail) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, rec + 4 + len) == 1;
  }

  // `body` is one record's ciphertext and tag, `head` its length bytes.
  bool Open(const unsigned char* head, unsigned char* body, size_t body_len, std::string& plain) {
    if (body_len < kTagBytes) return false;
    size_t len = body_len - kTagBytes;
    plain.resize(len);
    auto* out = reinterpret_cast<unsigned char*>(plain.data());
    int n = 0, tail = 0;
    return Start() && EVP_DecryptUpdate(ctx_.get(), nullptr, &n, head, 4) == 1 &&
           EVP_DecryptUpdate(ctx_.get(), out, &n, body, static_cast<int>(len)) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, body + len) == 1 &&
           EVP_DecryptFinal_ex(ctx_.get(), out + n, &tail) == 1;
  }

 private:
  // A fresh IV per record: the counter, never reused under this key.
  bool Start() {
    unsigned char iv[kIvBytes] = {};
    PutBigEndian(iv + 4, counter_++, 8);
    return ok_ && (seal_ ? EVP_EncryptInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv)
                         : EVP_DecryptInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv)) == 1;
  }

  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx_;
  bool seal_;
  bool ok_ = false;
  uint64_t counter_ = 0;
};

}  // namespace

PoolSession DerivePoolSession(std::string_view pool_key, std::string_view gateway_nonce,
                              std::string_view relay_nonce, std::string_view request_line, PoolEnd end) {
  // HMAC-SHA256 as the KDF: the pool key is 32 random bytes (NewPoolKey), the
  // nonces make every connection's keys fresh, the label picks the direction.
  std::string context = std::string(gateway_nonce) + "\n" + std::string(relay_nonce) + "\n" +
                        std::string(request_line);
  std::string to_relay = Hmac(pool_key, "crossfarm-pool v2 gateway->relay\n" + context);
  std::string to_gateway = Hmac(pool_key, "crossfarm-pool v2 relay->gateway\n" + context);
  if (end == PoolEnd::kGateway) return {to_relay, to_gateway};
  return {to_gateway, to_relay};
}

std::string NewPoolNonce() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return "";
  return HexEncode(raw, sizeof raw);
}

SplicedBytes SealedSplice(int plain, int sealed, const PoolSession& session, int stop_fd) {
  SplicedBytes moved;
  RecordCipher sealer(session.seal_key, true), opener(session.open_key, false);
  bool plain_open = true, sealed_open = true;  // still reading from each
  std::string in;                               // received, not yet opened record bytes
  std::string out, plaintext;
  std::unique_ptr<unsigned char[]> buf(new unsigned char[kMaxPlain]);
  while (plain_open || sealed_open) {
    pollfd p[3] = {{plain, static_cast<short>(plain_open ? POLLIN : 0), 0},
                   {sealed, static_cast<short>(sealed_open ? POLLIN : 0), 0},
                   {stop_fd, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return moved;
    }
    if (p[2].revents) return moved;
    if (plain_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::recv(plain, buf.get(), kMaxPlain, 0);
      if (n < 0 && errno == EINTR) continue;
      out.clear();
      // EOF (or an error) from our side: the end record, then nothing more.
      if (!sealer.Seal(buf.get(), n > 0 ? static_cast<size_t>(n) : 0, out)) return moved;
      if (!SendAll(sealed, reinterpret_cast<const unsigned char*>(out.data()), out.size(), stop_fd)) return moved;
      if (n <= 0) {
        plain_open = false;
        ::shutdown(sealed, SHUT_WR);  // after the end record, which is what counts
      } else {
        moved.sealed += static_cast<uint64_t>(n);
      }
    }
    if (sealed_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::recv(sealed, buf.get(), kMaxPlain, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return moved;  // closed before its end record: cut, not done
      in.append(reinterpret_cast<const char*>(buf.get()), static_cast<size_t>(n));
      while (sealed_open && in.size() >= 4) {
        auto* head = reinterpret_cast<unsigned char*>(in.data());
        size_t len = (size_t{head[0]} << 24) | (size_t{head[1]} << 16) | (size_t{head[2]} << 8) | head[3];
        if (len < kTagBytes || len > kMaxPlain + kTagBytes) return moved;
        if (in.size() < 4 + len) break;
        if (!opener.Open(head, head + 4, len, plaintext)) return moved;
        in.erase(0, 4 + len);
        if (plaintext.empty()) {
          sealed_open = false;
          ::shutdown(plain, SHUT_WR);
        } else if (!SendAll(plain, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), stop_fd)) {
          return moved;
        } else {
          moved.opened += plaintext.size();
        }
      }
    }
  }
  moved.clean = true;
  return moved;
}

}  // namespace crossfarm::worker
