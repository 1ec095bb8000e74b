// Signed artifact refs (docs/security.md "Signed artifact refs").
//
// Every `artifacts/<cache key>` ref a worker writes carries an Ed25519
// signature (RefInfo::signature) by that worker's signing key, whose public
// half is RefInfo::signer. The signature covers the ref's name (so its cache
// key), the root digest, the build log, element, arch and worker name: a signed
// ref is worthless under another cache key, for another tree or for another
// worker. It lives inside the ref's value, next to the root it vouches for, so
// it travels wherever the ref does.
//
// The signing key is derived from the worker's CurveZMQ secret key (one secret
// to deploy and revoke per machine; CurveZMQ's X25519 keys cannot sign). Its
// public half is written in NAME.pub by `crossfarm keygen` as `sign=HEX` and
// goes into the CAS allow list with the worker's line; the CAS hands the list of
// worker signing keys to clients (op `signers`), which check every artifact ref
// they read against it.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "cas/curve_keys.h"
#include "common/status.h"
#include "proto/cas_types.h"

namespace crossfarm::cas {

inline constexpr std::string_view kArtifactRefPrefix = "artifacts/";

// An Ed25519 key pair: raw 32-byte seed and public key.
struct SigningKey {
  std::string seed;
  std::string public_key;
};

// The signing key of a CurveZMQ key pair (deterministic: SHA-256 of a label and
// the secret key is the Ed25519 seed).
Result<SigningKey> DeriveSigningKey(const CurveKeyPair& pair);

// Lowercase hex of a raw public key, the `sign=` form of allow lists; and back
// (InvalidArgument unless 64 hex digits).
std::string SignerHex(std::string_view raw_public_key);
Result<std::string> ParseSignerHex(std::string_view hex);

// True for refs that must be signed: `artifacts/…`, and the acceleration
// probe's `accel-probe-cache/…` (which compilers a pool may use) and
// `accel-probes/…` (what `show` reports): a forged probe result would steer
// every later accelerated build (issue 19).
bool IsSignedRef(std::string_view name);

// Sets ref.signer and ref.signature for `name`.
Status SignRef(const SigningKey& key, std::string_view name, proto::RefInfo& ref);

// OK if `ref` carries a valid signature for `name` by one of `trusted`, and
// that signer's name (when it has one) is the ref's `worker`. Otherwise
// PermissionDenied saying what is wrong (unsigned, unknown signer, bad
// signature, worker name not the signer's).
Status VerifyRef(std::span<const proto::TrustedSigner> trusted, std::string_view name,
                 const proto::RefInfo& ref);

// The worker signing keys of an allow list (role worker with `sign=`); admin and
// client keys never vouch for artifacts.
std::vector<proto::TrustedSigner> SignersOf(const std::vector<AllowedKey>& allowed);

}  // namespace crossfarm::cas
