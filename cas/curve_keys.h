// CurveZMQ keys for the cluster (docs/protocol.md "Authentication").
//
// NAME.key (mode 0600) holds both halves:   public-key = <Z85>
//                                          secret-key = <Z85>
// NAME.pub holds the public key and its `sign=HEX` signing key on one line,
// ready to append to an allow list. Allow lists (docs/security.md): one Z85 public key per line, optionally
// followed by words: a role (`client`, `worker` or `admin`; default `client`) and
// `name=NAME` (the only worker name this key may register, scheduler lists) and
// `sign=HEX` (the key's artifact-ref signing key, cas/ref_signing.h; NAME.pub has it).
// Lines starting with '#' are comments ('#' is a Z85 character, so there are no
// trailing comments). A plain list of keys is a valid list of client keys.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace zmq {
class context_t;
}

namespace crossfarm::cas {

struct CurveKeyPair {
  std::string public_key;  // 40 Z85 characters
  std::string secret_key;  // 40 Z85 characters
};

// Writes NAME.key and NAME.pub; AlreadyExists rather than overwriting a key.
Result<CurveKeyPair> GenerateKeyPair(const std::string& name);
// NAME.key, made (with NAME.pub) on first use: the key of a user's own cache.
// Safe when several processes race to make it (one wins, all load its key).
Result<CurveKeyPair> LoadOrCreateKeyPair(const std::string& name);
// Reads a .key file. PermissionDenied if it is readable by group or others.
Result<CurveKeyPair> LoadSecretKey(const std::string& path);
// Reads a .pub file (or the public half of a .key file).
Result<std::string> LoadPublicKey(const std::string& path);
// What a key may do on the CAS (docs/security.md "Roles"): each role can do
// everything the one before it can.
enum class KeyRole { kClient, kWorker, kAdmin };
const char* RoleName(KeyRole role);

struct AllowedKey {
  std::string key;  // Z85
  KeyRole role = KeyRole::kClient;
  std::string name;  // "" unless the line says name=NAME
  std::string sign_key;  // raw Ed25519 key of `sign=HEX` (cas/ref_signing.h), or ""
  bool operator==(const std::string& other) const { return key == other; }
};

// One allow list line (no comment, trimmed). InvalidArgument naming `where`.
Result<AllowedKey> ParseAllowLine(const std::string& line, const std::string& where);
Result<std::vector<AllowedKey>> LoadAllowList(const std::string& path);
std::vector<std::string> KeysOf(const std::vector<AllowedKey>& list);
// True for 40 characters of the Z85 alphabet.
bool IsZ85Key(const std::string& key);

// The ZAP handler (RFC 27) of a ZeroMQ context: accepts CURVE clients whose public
// key is allow-listed, refuses and logs everyone else. Binds
// inproc://zeromq.zap.01 on construction; its thread ends when the context is
// shut down (destroy it after zmq::context_t::shutdown()). `on_refused` (may
// be empty) is called on the handler's thread for each refused connection.
class ZapHandler {
 public:
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   const std::vector<std::string>& allowed,
                                                   std::function<void()> on_refused = {});
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   const std::vector<AllowedKey>& allowed,
                                                   std::function<void()> on_refused = {}) {
    return Start(context, KeysOf(allowed), std::move(on_refused));
  }
  ~ZapHandler();

  // Replaces the allow list (SIGHUP): it decides every connection from now
  // on; connections already admitted stay up (the daemons check each
  // message's key against their own list too). Thread-safe.
  void SetAllowed(const std::vector<std::string>& allowed);

  struct Allowed {
    bool Contains(const std::string& key) const;
    mutable std::mutex mu;
    std::unordered_set<std::string> keys;
    std::function<void()> on_refused;
  };

 private:
  ZapHandler() = default;
  std::shared_ptr<Allowed> allowed_;
  std::thread thread_;
};

}  // namespace crossfarm::cas
