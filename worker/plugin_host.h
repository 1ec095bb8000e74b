// PluginHost: one python3 process running plugins/plugin_host.py, which runs
// the local BuildStream Python plugins of a project (docs/plugins.md). We talk
// to it over its stdin/stdout with length-prefixed JSON frames (protocol v1):
// a request, then zero or more calls from the host (a plugin's sandbox.run())
// that the caller answers, then the reply.
//
// A host that raises, hangs past the timeout, writes garbage or dies gives an
// error Status, never a crash; after a timeout, garbage or death the host is
// killed and dead() is true (the owner starts another). The host runs in a
// network namespace of its own unless started for fetch/track (network=true).
//
// Not thread-safe: one request at a time (PluginHostPool hands out hosts).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "worker/process.h"

namespace crossfarm::worker {

using Json = nlohmann::json;

inline constexpr int kPluginProtocolVersion = 1;
inline constexpr uint32_t kMaxPluginFrame = 64u << 20;

struct PluginHostOptions {
  std::string program;  // plugin_host.py; "" = DefaultPluginHostProgram()
  // The plugin's own time per request, restarted after each call we answer
  // (a sandbox.run takes as long as the command needs). 0 = none.
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};
  bool network = false;  // false: runs in an empty network namespace (bwrap)
};

// $CROSSFARM_PLUGIN_HOST, else <dir of /proc/self/exe>/../share/crossfarm/plugin_host.py
// (installed), else the source tree's plugins/plugin_host.py (a build tree).
std::string DefaultPluginHostProgram();
// The request timeout: $CROSSFARM_PLUGIN_TIMEOUT (seconds) or the default.
std::chrono::milliseconds DefaultPluginTimeout();

// Answers a call of the host during a request ({"call":"run",...}).
using PluginCall = std::function<Result<Json>(const Json& call)>;
// Receives what plugins printed or logged.
using PluginLog = std::function<void(std::string_view)>;

class PluginHost {
 public:
  static Result<std::unique_ptr<PluginHost>> Start(const PluginHostOptions& options);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Sends `request` and returns the reply's "result". A plugin's exception is
  // InvalidArgument "ExcType: message" + the traceback's last frames; a
  // timeout, garbage or death is Unavailable naming what happened.
  Result<Json> Request(const Json& request, const PluginCall& on_call = {},
                       const PluginLog& log = {});
  bool dead() const { return dead_; }

 private:
  PluginHost() = default;
  Status Send(const Json& frame);
  // The next frame; `timeout` 0 = none.
  Result<Json> Receive(std::string_view during, std::chrono::milliseconds timeout);
  Status Fail(std::string what);  // kills the host, marks it dead
  std::string StderrTail() const;

  PluginHostOptions options_;
  pid_t pid_ = -1;
  UniqueFd to_host_, from_host_, stderr_;
  bool dead_ = false;
};

// Hosts shared by the threads of one command: Acquire() returns an idle host
// or starts one; the lease gives it back (a dead one is dropped).
class PluginHostPool {
 public:
  explicit PluginHostPool(PluginHostOptions options) : options_(std::move(options)) {}
  class Lease {
   public:
    Lease(PluginHostPool* pool, std::unique_ptr<PluginHost> host)
        : pool_(pool), host_(std::move(host)) {}
    Lease(Lease&&) = default;
    ~Lease();
    PluginHost& operator*() { return *host_; }
    PluginHost* operator->() { return host_.get(); }

   private:
    PluginHostPool* pool_;
    std::unique_ptr<PluginHost> host_;
  };
  Result<Lease> Acquire();
  size_t started() const { return started_; }

 private:
  PluginHostOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<PluginHost>> idle_;
  size_t started_ = 0;
};

}  // namespace crossfarm::worker
