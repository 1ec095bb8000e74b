// Encrypted, authenticated distcc pool connections between workers
// (docs/acceleration.md "Pool traffic", docs/security.md).
//
// The pool handshake (worker/accel.cc) proves the relay knows the cluster's
// pool key: the gateway sends a fresh nonce, the relay answers with an HMAC of
// it and adds a fresh nonce of its own. Then both ends derive one AES-256-GCM
// key per direction from the pool key, both nonces and the request line, and
// every byte of distcc traffic goes as sealed records:
//
//   [4-byte big-endian length N][N bytes: ciphertext, then the 16-byte tag]
//
// The IV of record i is 4 zero bytes and i as 8 big-endian bytes (each key
// seals one direction of one connection, so an IV is never used twice); the
// length is authenticated too (as AAD). A record with no plaintext ends the
// direction (TCP half-close would not be authenticated: a cut connection must
// not pass for a complete compile). A gateway impostor cannot read anything
// (it lacks the key), and a record replayed, reordered, cut or altered ends the
// connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace crossfarm::worker {

// The two keys of one connection, as seen from one end.
struct PoolSession {
  std::string seal_key;  // 32 bytes: what this end sends
  std::string open_key;  // 32 bytes: what this end receives
};

enum class PoolEnd { kGateway, kRelay };

// Both ends call this with the same inputs and their own `end`.
PoolSession DerivePoolSession(std::string_view pool_key, std::string_view gateway_nonce,
                              std::string_view relay_nonce, std::string_view request_line, PoolEnd end);

// 16 random bytes as hex ("" if the system has no randomness to give).
std::string NewPoolNonce();

// Copies both ways between `plain` (the local distcc or distccd, on loopback)
// and `sealed` (the other worker) until both directions ended, `stop_fd`
// became readable, or a record failed (unauthentic, too long, or the peer
// closed before its end record): then it returns and the caller closes both.
// Returns the plaintext bytes moved from `plain` to `sealed` and back.
struct SplicedBytes {
  uint64_t sealed = 0;
  uint64_t opened = 0;
  bool clean = false;  // both directions ended with their end records
};
SplicedBytes SealedSplice(int plain, int sealed, const PoolSession& session, int stop_fd);

}  // namespace crossfarm::worker
