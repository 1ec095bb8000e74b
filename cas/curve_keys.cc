#include "cas/curve_keys.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cas/ref_signing.h"

namespace crossfarm::cas {

bool IsZ85Key(const std::string& key) {
  static const std::string kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return key.size() == 40 && key.find_first_not_of(kAlphabet) == std::string::npos;
}

namespace {

Status WriteFileExclusive(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST)
      return Status::AlreadyExists(path + " exists; remove it first to make a new key");
    return Status::FromErrno("creating " + path, errno);
  }
  Status s;
  if (::fchmod(fd, mode) != 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    s = Status::FromErrno("writing " + path, errno);
  ::close(fd);
  return s;
}

Result<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err(Status::FromErrno("opening " + path, errno));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    // '#' is a Z85 character: only whole lines are comments.
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto last = line.find_last_not_of(" \t\r");
    lines.push_back(line.substr(first, last - first + 1));
  }
  return lines;
}

// "name = value" lines of a .key file.
std::string Field(const std::vector<std::string>& lines, const std::string& name) {
  for (const auto& line : lines) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", eq - 1) + 1);
    if (key != name) continue;
    auto start = line.find_first_not_of(" \t", eq + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

}  // namespace

Result<CurveKeyPair> GenerateKeyPair(const std::string& name) {
  char pub[41] = {}, sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0)
    return Err(Status::FailedPrecondition("libzmq was built without CURVE support"));
  CurveKeyPair pair{pub, sec};
  std::string key_text = "# crossfarm CurveZMQ key pair: keep this file secret\n"
                         "public-key = " + pair.public_key + "\nsecret-key = " + pair.secret_key + "\n";
  CF_ASSIGN_OR_RETURN(SigningKey signing, DeriveSigningKey(pair));
  CF_TRY(WriteFileExclusive(name + ".key", key_text, 0600));
  // One line for allow lists: the CAS needs the signing key of workers.
  CF_TRY(WriteFileExclusive(name + ".pub", pair.public_key + " sign=" + SignerHex(signing.public_key) + "\n",
                            0644));
  return pair;
}

Result<CurveKeyPair> LoadOrCreateKeyPair(const std::string& name) {
  const std::string path = name + ".key";
  if (::access(path.c_str(), F_OK) == 0) return LoadSecretKey(path);
  // Made under a name of our own, then linked into place: nobody ever reads
  // a half-written key, and link() lets exactly one racer win.
  const std::string tmp = name + ".new-" + std::to_string(::getpid());
  ::unlink((tmp + ".key").c_str());
  ::unlink((tmp + ".pub").c_str());
  CF_TRY(GenerateKeyPair(tmp));
  bool won = ::link((tmp + ".key").c_str(), path.c_str()) == 0;
  int err = errno;
  if (won) ::rename((tmp + ".pub").c_str(), (name + ".pub").c_str());
  ::unlink((tmp + ".key").c_str());
  ::unlink((tmp + ".pub").c_str());
  if (!won && err != EEXIST) return Err(Status::FromErrno("creating " + path, err));
  return LoadSecretKey(path);
}

Result<CurveKeyPair> LoadSecretKey(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Err(Status::FromErrno("key file " + path, errno));
  if ((st.st_mode & 077) != 0)
    return Err(Status::PermissionDenied("key file " + path + " is readable by others; chmod 600 it"));
  CF_ASSIGN_OR_RETURN(auto lines, ReadLines(path));
  CurveKeyPair pair{Field(lines, "public-key"), Field(lines, "secret-key")};
  if (!IsZ85Key(pair.public_key) || !IsZ85Key(pair.secret_key))
    return Err(Status::InvalidArgument(path + " is not a crossfarm key file (run crossfarm keygen)"));
  return pair;
}

Result<std::string> LoadPublicKey(const std::string& path) {
  CF_ASSIGN_OR_RETURN(auto lines, ReadLines(path));
  std::string from_key = Field(lines, "public-key");
  if (IsZ85Key(from_key)) return from_key;
  // A NAME.pub line: the key, then words for allow lists (sign=HEX).
  std::string first = lines.size() == 1 ? lines[0].substr(0, lines[0].find_first_of(" \t")) : "";
  if (IsZ85Key(first)) return first;
  return Err(Status::InvalidArgument(path + " does not hold a Z85 public key (a NAME.pub from crossfarm keygen)"));
}

const char* RoleName(KeyRole role) {
  switch (role) {
    case KeyRole::kClient: return "client";
    case KeyRole::kWorker: return "worker";
    case KeyRole::kAdmin: return "admin";
  }
  return "?";
}

Result<AllowedKey> ParseAllowLine(const std::string& line, const std::string& where) {
  std::istringstream words(line);
  AllowedKey entry;
  words >> entry.key;
  if (!IsZ85Key(entry.key))
    return Err(Status::InvalidArgument(where + ": not a Z85 public key (40 characters)"));
  bool has_role = false;
  for (std::string w; words >> w;) {
    if (w.starts_with("name=") && w.size() > 5 && entry.name.empty()) {
      entry.name = w.substr(5);
      continue;
    }
    if (w.starts_with("sign=") && entry.sign_key.empty()) {
      auto raw = ParseSignerHex(w.substr(5));
      if (!raw) return Err(Status::InvalidArgument(where + ": " + raw.error().message()));
      entry.sign_key = *raw;
      continue;
    }
    std::optional<KeyRole> role;
    for (KeyRole r : {KeyRole::kClient, KeyRole::kWorker, KeyRole::kAdmin})
      if (w == RoleName(r)) role = r;
    if (!role || has_role)
      return Err(Status::InvalidArgument(where + ": unexpected '" + w +
                                         "' after the key (one role: client, worker or admin; name=NAME; sign=HEX)"));
    entry.role = *role;
    has_role = true;
  }
  return entry;
}

Result<std::vector<AllowedKey>> LoadAllowList(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err(Status::FromErrno("opening " + path, errno));
  std::vector<AllowedKey> list;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    CF_ASSIGN_OR_RETURN(auto entry, ParseAllowLine(line.substr(first), path + ":" + std::to_string(number)));
    list.push_back(std::move(entry));
  }
  return list;
}

std::vector<std::string> KeysOf(const std::vector<AllowedKey>& list) {
  std::vector<std::string> keys;
  for (const auto& e : list) keys.push_back(e.key);
  return keys;
}

namespace {

void ServeZap(zmq::socket_t socket, std::shared_ptr<ZapHandler::Allowed> allowed) {
  while (true) {
    std::vector<zmq::message_t> req;
    try {
      if (!zmq::recv_multipart(socket, std::back_inserter(req))) continue;
    } catch (const zmq::error_t&) {
      return;  // context shut down
    }
    if (req.size() < 6) continue;
    std::string mechanism = req[5].to_string();
    std::string address = req[3].to_string();
    std::string client_key;
    if (mechanism == "CURVE" && req.size() >= 7 && req[6].size() == 32) {
      char z85[41] = {};
      zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
      client_key = z85;
    }
    bool ok = !client_key.empty() && allowed->Contains(client_key);
    if (!ok && allowed->on_refused) allowed->on_refused();
    if (!ok)
      spdlog::warn("cas: refused connection peer={} mechanism={} key={}", address, mechanism,
                   client_key.empty() ? "none" : client_key);
    std::array<zmq::const_buffer, 6> reply = {
        zmq::str_buffer("1.0"), zmq::buffer(req[1].data(), req[1].size()),
        ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
        ok ? zmq::str_buffer("OK") : zmq::str_buffer("key not allowed"),
        zmq::buffer(client_key), zmq::str_buffer("")};
    try {
      zmq::send_multipart(socket, reply);
    } catch (const zmq::error_t&) {
      return;
    }
  }
}

}  // namespace

bool ZapHandler::Allowed::Contains(const std::string& key) const {
  std::lock_guard lock(mu);
  return keys.contains(key);
}

void ZapHandler::SetAllowed(const std::vector<std::string>& allowed) {
  std::lock_guard lock(allowed_->mu);
  allowed_->keys = std::unordered_set<std::string>(allowed.begin(), allowed.end());
}

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                      const std::vector<std::string>& allowed,
                                                      std::function<void()> on_refused) {
  std::unique_ptr<ZapHandler> handler(new ZapHandler());
  handler->allowed_ = std::make_shared<Allowed>();
  handler->allowed_->on_refused = std::move(on_refused);
  handler->SetAllowed(allowed);
  try {
    zmq::socket_t socket(context, zmq::socket_type::rep);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind("inproc://zeromq.zap.01");
    handler->thread_ = std::thread(ServeZap, std::move(socket), handler->allowed_);
  } catch (const zmq::error_t& e) {
    return Err(Status::Internal(std::string("starting the ZAP handler: ") + e.what()));
  }
  return handler;
}

ZapHandler::~ZapHandler() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace crossfarm::cas
