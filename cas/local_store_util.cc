#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <rocksdb/env.h>

#include "cas/local_store_internal.h"

namespace crossfarm::cas::internal {

std::shared_ptr<rocksdb::Logger> DiscardingLogger() {
  struct Discard : rocksdb::Logger {
    using rocksdb::Logger::Logv;
    void Logv(const char*, va_list) override {}
  };
  return std::make_shared<Discard>();
}

Status FromRocks(const rocksdb::Status& s, const std::string& context) {
  std::string what = context + ": " + s.ToString();
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(what);
  if (s.IsNoSpace() || what.find("No space left") != std::string::npos)
    return Status::ResourceExhausted(what + " (disk full: free space or lower the CAS quota)");
  if (s.IsCorruption()) return Status::Corruption(what);
  if (s.IsNotSupported())  // a secondary instance refuses writes
    return Status::FailedPrecondition(what + " (the store is open read-only beside the process that holds it)");
  // RocksDB: "IO error: While lock file: <dir>/LOCK: Resource temporarily
  // unavailable". (Not any "lock": "block checksum mismatch" is corruption.)
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || what.find("/LOCK: ") != std::string::npos)
    return Status::Unavailable(what + " (held by another process)");
  return Status::IOError(what);
}

bool IsHeldByAnother(const Status& s) {
  return s.code() == StatusCode::kUnavailable && s.message().find("/LOCK: ") != std::string::npos;
}

namespace {
std::string HolderPath(const std::string& dir) { return dir + "/holder"; }
}  // namespace

std::string DescribeHolder(const std::string& dir) {
  std::ifstream in(HolderPath(dir));
  long pid = 0;
  std::string command;
  if (!(in >> pid) || pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return "another process";
  std::getline(in >> std::ws, command);
  return "pid " + std::to_string(pid) + (command.empty() ? "" : " (" + command + ")");
}

void WriteHolder(const std::string& dir) {
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  std::replace(args.begin(), args.end(), '\0', ' ');
  while (!args.empty() && args.back() == ' ') args.pop_back();
  if (args.size() > 200) args = args.substr(0, 200) + "...";
  const std::string tmp = HolderPath(dir) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ::getpid() << " " << args << "\n";
    if (!out) return;
  }
  std::rename(tmp.c_str(), HolderPath(dir).c_str());
}

Status CheckFormat(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta, const std::string& dir) {
  const std::string expected = std::to_string(kLocalFormatVersion);
  std::string value;
  auto s = db.Get(rocksdb::ReadOptions(), meta, "format", &value);
  if (s.IsNotFound()) {
    s = db.Put(rocksdb::WriteOptions(), meta, "format", expected);
    return s.ok() ? Status::Ok() : FromRocks(s, "writing format version");
  }
  if (!s.ok()) return FromRocks(s, "reading format version");
  if (value != expected)
    return Status::FailedPrecondition("CAS " + dir + " has format version " + value +
                                      ", this crossfarm reads version " + expected +
                                      " (docs/cas.md)");
  return Status::Ok();
}

std::string EncodeTime(int64_t unix_seconds) {
  std::string out(8, '\0');
  auto v = static_cast<uint64_t>(unix_seconds);
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

int64_t DecodeTime(std::string_view bytes) {
  if (bytes.size() != 8) return 0;
  uint64_t v = 0;
  for (char c : bytes) v = v << 8 | static_cast<uint8_t>(c);
  return static_cast<int64_t>(v);
}

std::vector<std::optional<std::string>> MultiGetInfo(rocksdb::DB& db,
                                                     rocksdb::ColumnFamilyHandle* info,
                                                     std::span<const EntryView> entries) {
  // Sorted input spares RocksDB its own sort of the batch.
  std::vector<std::pair<std::string, size_t>> keys;
  keys.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) keys.emplace_back(BlobKey(entries[i].digest), i);
  std::sort(keys.begin(), keys.end());
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const auto& k : keys) slices.emplace_back(k.first);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db.MultiGet(rocksdb::ReadOptions(), info, slices.size(), slices.data(), values.data(),
              statuses.data(), /*sorted_input=*/true);
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i)
    if (statuses[i].ok()) out[keys[i].second] = values[i].ToString();
  return out;
}

void AddTouches(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* info,
                std::span<const std::string> keys, std::span<const std::string> times,
                int64_t now, std::chrono::seconds grace, const std::string& now_bytes) {
  // Half the grace period: a blob seen present stays safe for at least grace/2,
  // while repeated lookups of hot blobs cost no writes.
  int64_t refresh_before = now - grace.count() / 2;
  for (size_t i = 0; i < keys.size(); ++i)
    if (DecodeTime(times[i]) < refresh_before) batch.Put(info, keys[i], now_bytes);
}

Result<std::vector<Digest>> ParseManifest(const Digest& digest, std::string_view value) {
  uint64_t n = ChunkCount(digest.size);
  if (digest.size <= kChunkSize || value.empty() || value[0] != kTagManifest ||
      value.size() != 1 + 32 * n)
    return Err(Status::Corruption("malformed manifest"));
  std::vector<Digest> chunks(n);
  for (uint64_t i = 0; i < n; ++i) {
    std::memcpy(chunks[i].hash.data(), value.data() + 1 + 32 * i, 32);
    chunks[i].size = ChunkLength(digest.size, i);
  }
  return chunks;
}

ChunkReader::ChunkReader(int fd, uint64_t size, std::string path)
    : fd_(fd), size_(size), path_(std::move(path)) {}

ChunkReader::ChunkReader(ChunkReader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_), path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)) {}

ChunkReader::~ChunkReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<ChunkReader> ChunkReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(Status::FromErrno("opening " + path, errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Err(Status::FromErrno("stat " + path, err));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return ChunkReader(fd, static_cast<uint64_t>(st.st_size), path);
}

Result<std::string_view> ChunkReader::Next() {
  buffer_.resize(kChunkSize);
  size_t filled = 0;
  while (filled < buffer_.size()) {
    ssize_t n = ::read(fd_, buffer_.data() + filled, buffer_.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(Status::FromErrno("reading " + path_, errno));
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  return std::string_view(buffer_.data(), filled);
}

Result<std::string> ChunkReader::ReadAll() {
  // Reads straight into the result (one copy); one extra byte detects growth.
  std::string out(size_ + 1, '\0');
  size_t filled = 0;
  while (filled < out.size()) {
    ssize_t n = ::read(fd_, out.data() + filled, out.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(Status::FromErrno("reading " + path_, errno));
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  if (filled != size_) return Err(Status::IOError(path_ + " changed size while being read"));
  out.resize(filled);
  return out;
}

}  // namespace crossfarm::cas::internal
