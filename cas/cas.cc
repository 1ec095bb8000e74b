#include "cas/cas.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>

namespace crossfarm::cas {

Cas::Cas(std::shared_ptr<Store> store, std::shared_ptr<BlobAccess> blobs, LocalStore* local)
    : store_(std::move(store)), blobs_(std::move(blobs)), local_(local) {}

Result<Digest> Cas::Put(std::string_view data) {
  Digest d = Digest::OfBytes(data);
  CF_TRY(blobs_->Put(d, data));
  return d;
}

Result<Digest> Cas::PutFile(const std::string& path) { return blobs_->PutFile(path); }

Result<std::string> Cas::Get(const Digest& digest) { return blobs_->Get(digest); }

Result<RefInfo> Cas::GetRef(const std::string& name) {
  CF_ASSIGN_OR_RETURN(RefInfo ref, store_->GetRef(name));
  if (!IsSignedRef(name)) return ref;
  CF_ASSIGN_OR_RETURN(const std::vector<proto::TrustedSigner>* signers, Signers());
  if (!signers) return ref;
  Status s = VerifyRef(*signers, name, ref);
  if (s.ok()) return ref;
  bool first;
  {
    std::lock_guard lock(refused_mu_);
    first = refused_.insert(name).second;
  }
  if (first && trust_.on_refused) trust_.on_refused(name, s);
  else if (first) spdlog::warn("cas: refused ref={}: {}", name, s.message());
  return Err(s);
}

Status Cas::PutRef(const std::string& name, const RefInfo& ref) {
  if (!trust_.signing_key || !IsSignedRef(name)) return store_->PutRef(name, ref);
  RefInfo signed_ref = ref;
  CF_TRY(SignRef(*trust_.signing_key, name, signed_ref));
  return store_->PutRef(name, signed_ref);
}

Result<const std::vector<proto::TrustedSigner>*> Cas::Signers() {
  if (trust_.signers) return &*trust_.signers;
  if (!trust_.signers_from_server) return nullptr;
  std::lock_guard lock(signers_mu_);
  if (!server_signers_) {
    auto got = ServerSigners();
    if (!got) return Err(Status(got.error().code(), "the CAS's list of worker signing keys: " +
                                                        got.error().message()));
    server_signers_ = std::move(*got);
  }
  return &*server_signers_;
}

Result<std::vector<proto::TrustedSigner>> Cas::ServerSigners() {
  auto* remote = dynamic_cast<RemoteStore*>(store_.get());
  if (!remote) return Err(Status::FailedPrecondition("a local store has no signers list"));
  return remote->Signers();
}

Result<bool> Cas::Has(const Digest& digest) {
  CF_ASSIGN_OR_RETURN(auto missing, blobs_->FindMissing(std::span(&digest, 1)));
  return missing.empty();
}

Result<std::vector<Digest>> Cas::FindMissing(std::span<const Digest> digests) {
  return blobs_->FindMissing(digests);
}

namespace {
Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return errno == ENOSPC ? Status::ResourceExhausted("disk full writing " + path)
                             : Status::FromErrno("writing " + path, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}
}  // namespace

Status Cas::ReadToFile(const Digest& digest, const std::string& path, bool executable) {
  std::string tmp = path + ".cf-partial-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::FromErrno("creating a file next to " + path, errno);
  Status s = blobs_->Read(digest, [&](std::string_view piece) { return WriteAll(fd, piece, tmp); });
  if (s.ok() && ::fchmod(fd, executable ? 0755 : 0644) != 0) s = Status::FromErrno("chmod " + tmp, errno);
  if (::close(fd) != 0 && s.ok()) s = Status::FromErrno("closing " + tmp, errno);
  // Only a fully verified blob gets the real name.
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::FromErrno("renaming " + tmp, errno);
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Result<std::unique_ptr<Cas>> OpenCas(const std::string& spec, const CasOptions& options) {
  if (spec.empty()) return Err(Status::InvalidArgument("empty CAS location: give a directory or tcp://HOST:PORT"));
  if (spec.starts_with("tcp://")) {
    CF_ASSIGN_OR_RETURN(auto remote, RemoteStore::Connect(spec, options.remote));
    std::shared_ptr<Store> store = std::move(remote);
    auto verified = std::make_shared<VerifyingBlobAccess>(store);
    return std::make_unique<Cas>(store, verified, nullptr);
  }
  if (spec.starts_with("ipc://")) {
    CF_ASSIGN_OR_RETURN(auto remote, RemoteStore::Connect(spec, options.remote));
    std::shared_ptr<Store> store = std::move(remote);
    auto verified = std::make_shared<VerifyingBlobAccess>(store);
    auto cas = std::make_unique<Cas>(store, verified, nullptr);
    cas->service_endpoint_ = spec;
    cas->service_options_ = options.remote;
    return cas;
  }
  if (spec.find("://") != std::string::npos)
    return Err(Status::InvalidArgument("CAS location '" + spec + "': only tcp:// servers, ipc:// cache services and directories are supported"));
  CF_ASSIGN_OR_RETURN(auto local, LocalStore::Open(spec, options.local));
  LocalStore* raw = local.get();
  std::shared_ptr<Store> store = std::move(local);
  return std::make_unique<Cas>(store, store, raw);  // LocalStore verifies every read
}

void Cas::ForgetCachedFiles(const Digest& digest) {
  if (local_) return local_->RemoveCacheFiles(digest);
  if (service_endpoint_.empty()) return;
  // A stale hard-link copy is what this prevents: worth a line when it fails.
  if (Status s = static_cast<RemoteStore&>(*store_).ForgetFiles(std::span(&digest, 1)); !s.ok())
    spdlog::warn("cas: could not drop the cached files of {}: {}", digest.ToString(), s.ToString());
}

Result<std::unique_ptr<RemoteStore>> Cas::ServiceConnection() const {
  return RemoteStore::Connect(service_endpoint_, service_options_);
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view unit(end, text.data() + text.size() - end);
  if (ec != std::errc() || end == text.data())
    return Err(Status::InvalidArgument("size '" + std::string(text) + "' must start with a number (e.g. 10G)"));
  if (unit.ends_with("iB")) unit.remove_suffix(2);
  else if (unit.ends_with("B") && unit.size() > 1) unit.remove_suffix(1);
  int shift = 0;
  if (unit == "" || unit == "B") shift = 0;
  else if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M") shift = 20;
  else if (unit == "G") shift = 30;
  else if (unit == "T") shift = 40;
  else return Err(Status::InvalidArgument("size '" + std::string(text) + "': unknown unit '" + std::string(unit) + "' (use K, M, G or T)"));
  if (shift > 0 && value > (UINT64_MAX >> shift))
    return Err(Status::InvalidArgument("size '" + std::string(text) + "' is too large"));
  return value << shift;
}

}  // namespace crossfarm::cas
