#include "cas/ref_signing.h"

#include <openssl/evp.h>

#include <memory>

#include "common/digest.h"

namespace crossfarm::cas {

namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// What is signed: a label with a version (so that no other signed text of ours
// can be taken for a ref) and every field a reader acts on, NUL-separated (no
// field holds a NUL: names are validated, digests are text). Times are left
// out: GetRef touches last_used.
std::string SignedText(std::string_view name, const proto::RefInfo& ref) {
  const std::string root = ref.root.ToString();
  const std::string log = ref.build_log ? ref.build_log->ToString() : std::string();
  std::string text = "crossfarm artifact ref v1";
  for (std::string_view field : {name, std::string_view(root), std::string_view(log),
                                 std::string_view(ref.element), std::string_view(ref.arch),
                                 std::string_view(ref.worker)}) {
    text += '\0';
    text += field;
  }
  return text;
}

}  // namespace

Result<SigningKey> DeriveSigningKey(const CurveKeyPair& pair) {
  Sha256 sha;
  sha.Update("crossfarm artifact-ref signing key v1\n");
  sha.Update(pair.secret_key);
  auto seed = sha.Finish();
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()),
               EVP_PKEY_free);
  if (!pkey) return Err(Status::Internal("OpenSSL cannot make an Ed25519 key"));
  SigningKey key{std::string(reinterpret_cast<const char*>(seed.data()), seed.size()),
                 std::string(kKeyBytes, '\0')};
  size_t len = kKeyBytes;
  if (EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(key.public_key.data()),
                                  &len) != 1 ||
      len != kKeyBytes)
    return Err(Status::Internal("OpenSSL cannot read an Ed25519 public key"));
  return key;
}

std::string SignerHex(std::string_view raw_public_key) {
  return HexEncode(Bytes(raw_public_key), raw_public_key.size());
}

Result<std::string> ParseSignerHex(std::string_view hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string raw;
  for (size_t i = 0; hex.size() == 2 * kKeyBytes && i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) break;
    raw += static_cast<char>(hi * 16 + lo);
  }
  if (raw.size() != kKeyBytes)
    return Err(Status::InvalidArgument("'" + std::string(hex) +
                                       "' is not a signing key (64 hex digits, the sign= of NAME.pub)"));
  return raw;
}

bool IsSignedRef(std::string_view name) {
  return name.starts_with(kArtifactRefPrefix) || name.starts_with("accel-probe-cache/") ||
         name.starts_with("accel-probes/");
}

Status SignRef(const SigningKey& key, std::string_view name, proto::RefInfo& ref) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(key.seed), key.seed.size()),
               EVP_PKEY_free);
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!pkey || !ctx) return Status::Internal("OpenSSL cannot load the signing key");
  std::string text = SignedText(name, ref);
  std::string signature(kSignatureBytes, '\0');
  size_t len = signature.size();
  // Ed25519 is one-shot: no digest is named (nullptr), the message goes whole.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, Bytes(text),
                     text.size()) != 1 ||
      len != kSignatureBytes)
    return Status::Internal("OpenSSL could not sign " + std::string(name));
  ref.signer = key.public_key;
  ref.signature = std::move(signature);
  return Status::Ok();
}

Status VerifyRef(std::span<const proto::TrustedSigner> trusted, std::string_view name,
                 const proto::RefInfo& ref) {
  const std::string what(name);
  if (ref.signature.empty() || ref.signer.empty())
    return Status::PermissionDenied(what + " is not signed by a worker (written by an admin key, "
                                           "or by a crossfarm older than signed refs)");
  const proto::TrustedSigner* signer = nullptr;
  for (const auto& t : trusted)
    if (t.public_key == ref.signer) signer = &t;
  if (!signer)
    return Status::PermissionDenied(what + " is signed by " + SignerHex(ref.signer) +
                                    ", which is no worker of this cluster (not a sign= of a worker "
                                    "line in the CAS's --allow list)");
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(ref.signer), ref.signer.size()),
               EVP_PKEY_free);
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!pkey || !ctx) return Status::PermissionDenied(what + ": malformed signer key");
  std::string text = SignedText(name, ref);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), Bytes(ref.signature), ref.signature.size(), Bytes(text), text.size()) != 1)
    return Status::PermissionDenied(what + ": the signature of " + SignerHex(ref.signer) +
                                    " does not match this ref (root, cache key or worker changed after signing)");
  if (!signer->name.empty() && signer->name != ref.worker)
    return Status::PermissionDenied(what + " says worker " + ref.worker + " but is signed by worker " +
                                    signer->name);
  return Status::Ok();
}

std::vector<proto::TrustedSigner> SignersOf(const std::vector<AllowedKey>& allowed) {
  std::vector<proto::TrustedSigner> out;
  for (const auto& k : allowed)
    if (k.role == KeyRole::kWorker && !k.sign_key.empty()) out.push_back({k.sign_key, k.name});
  return out;
}

}  // namespace crossfarm::cas
