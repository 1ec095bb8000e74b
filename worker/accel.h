// Acceleration of emulated builds (docs/acceleration.md): the worker side.
//
// For a job whose root is for a foreign arch and whose spec names an
// accelerator (common/job_spec.h AccelSpec), the JobRunner
//   1. probes the cross compiler against the root's own compiler
//      (ProbeCompilers): same version and target, the same code for a probe
//      program; a difference only in identification strings is allowed;
//   2. stages host-arch files into the root (StageAccelerator): host-paths
//      where the root has nothing, host-tools replacing the root's files,
//      and the path of the loader (PT_INTERP) those programs need;
//   3. for distcc, starts distccd natively in a sandbox of its own whose root
//      is the accelerator only (DistccPool), both sandboxes in a network
//      namespace with only loopback (PrivateNetwork), and points the build's
//      compiler names at distcc (DistccEnvironment).
// What rules acceleration out (no compiler to compare, a probe difference, a
// guarded flag, no root for a private network, a root the host tools' loader
// cannot be put in) turns it off for the job with a warning in its log; the
// build then runs plainly emulated. An error while staging fails the job (an
// infrastructure error, retried): the root may be half staged and must not be
// built in.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/job_spec.h"
#include "common/status.h"
#include "worker/fs_util.h"
#include "worker/process.h"
#include "worker/sandbox.h"

namespace crossfarm::worker {

// A network namespace with nothing but loopback (up). Needs CAP_SYS_ADMIN.
class PrivateNetwork {
 public:
  static Result<PrivateNetwork> Create();
  int fd() const { return ns_.get(); }

 private:
  explicit PrivateNetwork(UniqueFd ns) : ns_(std::move(ns)) {}
  UniqueFd ns_;
};

// Moves the calling thread into a network namespace until destroyed; every
// process it starts meanwhile (posix_spawn) is born in there.
class NetnsScope {
 public:
  static Result<NetnsScope> Enter(int ns_fd);
  NetnsScope(NetnsScope&& other) noexcept = default;
  NetnsScope& operator=(NetnsScope&&) = delete;
  NetnsScope(const NetnsScope&) = delete;
  ~NetnsScope();

 private:
  explicit NetnsScope(UniqueFd original) : original_(std::move(original)) {}
  UniqueFd original_;
};

struct AccelStageReport {
  size_t added = 0;                   // host-paths (and loader path) entries new in the root
  std::vector<std::string> replaced;  // root paths now holding a host-arch file
  std::vector<std::string> refused;   // machine-reporting tools a glob matched
  // What was created so that the loader (PT_INTERP) of every host-arch program
  // placed resolves in the root: "/lib64 -> usr/lib64", "/usr/lib64".
  std::vector<std::string> loader_paths;
  // Set when a loader cannot be provided without replacing or writing through
  // something the root has (e.g. /lib64 is a file): why. No host tool then
  // replaced the root's, and the root must not be used for an accelerated
  // build: the job runs plainly emulated.
  std::string unusable;
};

// Stages the accelerator checkout `accel` into the staged root `root`
// (see the file comment). Paths resolve inside each tree, never on the host;
// an existing root entry is never replaced by a host-path, and a host-tool
// the root lacks is not added (the build keeps seeing the tools it had).
// The loader each placed host-arch program names (PT_INTERP) is made to
// resolve in the root, missing path components created as the accelerator
// has them; see `unusable` for a root where that is impossible.
// With `guard_dynamic_stack` (the probe found the compilers differ on it) the
// compiler driver becomes a script that compiles code with a VLA or alloca
// with the root's own compiler, everything else with the cross compiler.
Result<AccelStageReport> StageAccelerator(const std::string& root, const std::string& accel,
                                          const AccelSpec& spec, bool guard_dynamic_stack = false);

// GNU make's MAKE_HOST and bash's MACHTYPE/HOSTTYPE as the root's own builds
// report them; host-arch make and bash take them from the environment.
std::vector<std::pair<std::string, std::string>> MachineEnvironment(const ArchInfo& target);

// Changes whenever the probe program or its verdict rules change: cached
// verdicts of another version are not reused.
inline constexpr const char* kProbeVersion = "probe-6";

struct ProbeResult {
  bool same_code = false;
  // "same code as the root's gcc 12.2.0 (aarch64-linux-gnu); .comment differs: ..."
  // or what differs.
  std::string note;
  // Compiler flags for which the two compilers produce different code: a job
  // that uses one runs unaccelerated (e.g. -fstack-protector).
  std::vector<std::string> guarded_flags;
  // Code with dynamic stack allocation (alloca, VLAs) differs: such code is
  // compiled by the root's own compiler (StageAccelerator, DistccPool).
  bool dynamic_stack_differs = false;
};

// The probe's verdict as the small text blob the CAS keeps (one line each:
// same|different, the guarded flags, the note, dynamic-stack or nothing).
std::string EncodeProbe(const ProbeResult& probe);
ProbeResult DecodeProbe(std::string_view text);

// Compiles a probe program with the root's compiler (spec.cc inside `root`,
// emulated) and with the accelerator's (inside `accel_root`, natively).
// Errors only for infrastructure failures; a missing compiler in the root or a
// difference is a ProbeResult with same_code false.
Result<ProbeResult> ProbeCompilers(const Sandbox& sandbox, const std::string& work_dir,
                                   const std::string& root, const ArchInfo& root_arch,
                                   const std::string& accel_root, const AccelSpec& spec,
                                   const std::string& log_path);

// True if a command or an environment value of the job uses a guarded flag.
bool UsesGuardedFlag(const JobSpec& spec, const std::vector<std::string>& guarded_flags);

// distccd with the accelerator's cross compiler, in its own bubblewrap sandbox
// (root: a hard-linked copy of the accelerator, uid 65534), listening on
// 127.0.0.1 of the private network it is started in.
class DistccPool {
 public:
  static constexpr int kPort = 3632;
  // `accel_root`: a staged copy of the accelerator this pool may add to.
  static Result<std::unique_ptr<DistccPool>> Start(const Sandbox& sandbox, int netns_fd,
                                                   const std::string& accel_root,
                                                   const AccelSpec& spec, int jobs,
                                                   const std::string& log_path,
                                                   bool guard_dynamic_stack = false);
  int jobs() const { return jobs_; }
  ~DistccPool();
  DistccPool(const DistccPool&) = delete;
  DistccPool& operator=(const DistccPool&) = delete;

  // DISTCC_HOSTS for the build sandbox.
  std::string hosts() const;
  // Compilations distccd completed so far (its log's COMPILE_OK lines).
  size_t compiles() const;
  // Names of the cross compiler the pool accepts (its whitelist).
  const std::vector<std::string>& compiler_names() const { return names_; }

 private:
  DistccPool() = default;
  std::thread thread_;
  std::unique_ptr<CancelToken> cancel_;
  std::string log_path_;
  std::vector<std::string> names_;
  int jobs_ = 1;
};

// --- a pool across machines ---
//
// A worker with --distcc-slots runs a PoolGateway on its cluster address. An
// emulated job elsewhere gets the members from the scheduler
// (AccelSpec::remote_pool); its worker runs a PoolRelay: loopback ports in the
// job's private network, each forwarded to one member's gateway with a header
// naming the accelerator. The gateway accepts only the cluster's workers: it
// sends a fresh nonce, and the relay must answer HMAC-SHA256(pool key, nonce
// and header) with the key the scheduler hands every worker that authenticated
// to it (CurveZMQ); --distcc-allow narrows the peer addresses further. Then it
// starts (once per accelerator) a DistccPool of that accelerator in a private
// network of its own, and splices the connection to it. distccd itself never
// sees anything but loopback. Between the two workers every byte after the
// handshake is sealed with AES-256-GCM (worker/pool_crypto.h): the relay's
// answer carries a nonce of its own, and both nonces key the session.

// The cluster's distcc pool key, as the scheduler last sent it. Shared by the
// daemon thread (Set), the gateway and the job threads (Get).
class PoolKey {
 public:
  void Set(std::string key);
  std::string Get() const;  // "" until the scheduler sent one
  std::string Id() const;   // PoolKeyId(Get()), "" without a key

 private:
  mutable std::mutex mu_;
  std::string key_;
};


// An accept loop and the threads of the connections it accepted: Stop()
// raises `stop` (every Splice and poll watches its fd) and joins them all.
class ConnectionThreads {
 public:
  ~ConnectionThreads() { Stop(); }
  void StartAcceptor(std::function<void()> loop) { acceptor_ = std::thread(std::move(loop)); }
  void Add(std::function<void()> connection);
  void Stop();
  int stop_fd() const { return stop_.fd(); }

 private:
  CancelToken stop_;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
};

// "crossfarm-distcc 1 <digest> <host-arch> <triplet> <cc> <c++ or ->\n"
std::string PoolHeader(const Digest& accelerator, const AccelSpec& spec, bool guard_dynamic_stack);

class PoolGateway {
 public:
  struct Options {
    std::string address;             // to listen on
    uint16_t port = 3700;
    std::vector<std::string> allow;  // peer addresses allowed (exact IPv4 text); empty: any
    const PoolKey* key = nullptr;    // the cluster's; outlives the gateway. None: refuse all
    int slots = 1;                   // distccd --jobs per accelerator
    std::string work_dir;            // staged accelerator roots, distccd logs
  };
  using CheckoutFn = std::function<Result<std::string>(const Digest&)>;
  static Result<std::unique_ptr<PoolGateway>> Start(const Sandbox& sandbox, Options options,
                                                    CheckoutFn checkout);
  ~PoolGateway();
  uint16_t port() const { return port_; }
  size_t accepted() const { return accepted_.load(); }
  size_t refused() const { return refused_.load(); }  // by address or failed authentication
  size_t authenticated() const { return authenticated_.load(); }

 private:
  struct Instance;
  PoolGateway(const Sandbox& sandbox, Options options, CheckoutFn checkout);
  void Serve();
  void Handle(UniqueFd conn, std::string peer);
  Result<int> PoolFor(const std::string& header);  // the instance's netns fd

  const Sandbox& sandbox_;
  Options options_;
  CheckoutFn checkout_;
  UniqueFd listen_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Instance>> instances_;  // by accelerator digest
  std::atomic<size_t> accepted_{0}, refused_{0}, authenticated_{0};
  ConnectionThreads threads_;  // last: stopped before the instances go
};

class PoolRelay {
 public:
  // Listens on 127.0.0.1:first_port+i of the network `netns_fd` for member i;
  // answers each member's nonce with `key` (the cluster's pool key).
  static Result<std::unique_ptr<PoolRelay>> Start(int netns_fd, const std::vector<PoolMember>& members,
                                                  std::string header, std::string key,
                                                  uint16_t first_port);
  ~PoolRelay();
  std::string hosts() const;  // DISTCC_HOSTS entries, e.g. "127.0.0.1:3633/4"
  size_t relayed() const { return relayed_.load(); }

 private:
  PoolRelay() = default;
  void Serve();
  std::vector<PoolMember> members_;
  std::vector<UniqueFd> listeners_;
  std::vector<uint16_t> ports_;
  std::string header_;  // the request line, without its newline
  std::string key_;
  std::atomic<size_t> relayed_{0};
  ConnectionThreads threads_;
};

// Copies both ways between two connected sockets until both sides closed (or
// `stop_fd` becomes readable). Plain bytes: the pool's links use SealedSplice;
// bench/pool_relay.cc measures one against the other.
void Splice(int a, int b, int stop_fd);

// The names a build may call the cross compiler by (gcc, gcc-12,
// aarch64-linux-gnu-gcc, aarch64-linux-gnu-gcc-12, and the C++ ones).
std::vector<std::string> DistccCompilerNames(const AccelSpec& spec);

// Masquerade links for the build root (in /usr/lib/crossfarm-distcc, to
// /usr/bin/distcc) for each pool compiler name the root itself has, and the
// environment the build gets. Returns the PATH prefix dir, or "" when the root
// has none of the names.
Result<std::string> InstallDistccMasquerade(const std::string& root,
                                            const std::vector<std::string>& names);
std::vector<std::pair<std::string, std::string>> DistccEnvironment(const DistccPool& pool,
                                                                   const std::string& distcc_dir,
                                                                   bool guard_dynamic_stack);

}  // namespace crossfarm::worker
