#include "client/cache_service.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <thread>

#include "cas/server.h"
#include "client/local_build.h"
#include "worker/process.h"

extern char** environ;

namespace crossfarm::client {
namespace {

using worker::UniqueFd;

struct ServicePaths {
  explicit ServicePaths(const std::string& cas_dir)
      : dir(cas_dir + "/service"), lock(dir + "/lock"), lease(dir + "/lease"),
        log(dir + "/log"), socket(SocketPath(cas_dir)) {}
  std::string dir, lock, lease, log, socket;
};

Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::FromErrno("creating " + dir, ec.value());
  if (::chmod(dir.c_str(), 0700) != 0) return Status::FromErrno("chmod " + dir, errno);
  return Status::Ok();
}

Result<UniqueFd> OpenLockFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Err(Status::FromErrno("opening " + path, errno));
  return fd;
}

// flock retried over EINTR; false when `how` has LOCK_NB and the lock is taken.
Result<bool> Flock(const UniqueFd& fd, int how, const std::string& path) {
  while (::flock(fd.get(), how) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    return Err(Status::FromErrno("flock " + path, errno));
  }
  return true;
}

// True while a service holds DIR/service/lock (it takes it before anything
// else and keeps it until its process ends).
bool ServiceRunning(const std::string& lock_path) {
  auto fd = OpenLockFile(lock_path);
  if (!fd) return false;
  auto free = Flock(*fd, LOCK_SH | LOCK_NB, lock_path);
  return free && !*free;
}

// Starts `crossfarm cas service --dir DIR` detached: its own session, no
// inherited descriptors (a caller reading our stdout to EOF must not wait
// for the service), stderr into DIR/service/log.
Status SpawnService(const std::string& cas_dir, const ServicePaths& paths) {
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return Status::FromErrno("finding the crossfarm executable", ec.value());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, paths.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<std::string> args = {"crossfarm", "cas", "service", "--dir", cas_dir};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, self.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::FromErrno("starting the cache service " + self, rc);
  return Status::Ok();
}

Status ServiceFailed(const ServicePaths& paths, const Status& why) {
  return Status::Unavailable("the cache service for " + paths.dir + " did not start: " +
                             why.message() + "\n--- " + paths.log + " ---\n" +
                             TailOfFile(paths.log, 10));
}

}  // namespace

std::string SocketPath(const std::string& cas_dir) {
  std::string path = cas_dir + "/service/sock";
  if (path.size() < sizeof(sockaddr_un::sun_path)) return path;
  // Too long for sun_path: a per-user directory in /tmp, named by the store.
  return "/tmp/crossfarm-" + std::to_string(::getuid()) + "/" +
         Digest::OfBytes(cas_dir).Hex().substr(0, 24) + ".sock";
}

Result<std::unique_ptr<cas::Cas>> ConnectCacheService(const std::string& cas_dir) {
  ServicePaths paths(cas_dir);
  CF_TRY(MakePrivateDir(paths.dir));
  CF_TRY(MakePrivateDir(std::filesystem::path(paths.socket).parent_path().string()));
  CF_ASSIGN_OR_RETURN(UniqueFd lease, OpenLockFile(paths.lease));
  // Blocks only while a service is shutting down (it holds the lease
  // exclusively until its process ends); then a new one is started below.
  CF_TRY(Flock(lease, LOCK_SH, paths.lease));
  if (!ServiceRunning(paths.lock)) CF_TRY(SpawnService(cas_dir, paths));
  cas::CasOptions options;
  // Local and reliable while the service lives: no resends, and a dead
  // service ends a call within a second instead of at a deadline.
  options.remote.attempt_timeout = std::chrono::hours(24);
  options.remote.deadline = std::chrono::hours(24);
  options.remote.alive = [lock = paths.lock] { return ServiceRunning(lock); };
  // A service starting right now may not hold its lock yet: give it a moment.
  auto started = std::chrono::steady_clock::now();
  while (!ServiceRunning(paths.lock)) {
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10))
      return Err(ServiceFailed(paths, Status::Unavailable("it never took " + paths.lock)));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll with a deadline
  }
  auto cas = cas::OpenCas("ipc://" + paths.socket, options);
  if (!cas) return Err(ServiceFailed(paths, cas.error()));
  // The first call also waits for the service to finish opening the store.
  if (auto stats = (*cas)->Stats(); !stats) return Err(ServiceFailed(paths, stats.error()));
  (*cas)->Hold(std::make_shared<UniqueFd>(std::move(lease)));
  return std::move(*cas);
}

namespace {

// Waits for SIGTERM/SIGINT or for `linger` without any lease holder. When idle
// it returns holding the lease exclusively, so no command connects while the
// service stops; a signal stops it at once (its clients then fail Unavailable).
void ServeUntilIdle(const UniqueFd& lease, const ServicePaths& paths,
                    std::chrono::milliseconds linger, const sigset_t& signals) {
  auto idle_since = std::chrono::steady_clock::now();
  bool idle = false;
  while (true) {
    timespec tick{0, 200 * 1000 * 1000};
    if (sigtimedwait(&signals, nullptr, &tick) > 0) return;
    auto taken = Flock(lease, LOCK_EX | LOCK_NB, paths.lease);
    if (!taken || !*taken) {
      idle = false;
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    if (!idle) idle_since = now;
    idle = true;
    if (now - idle_since >= linger) return;
    (void)Flock(lease, LOCK_UN, paths.lease);
  }
}

}  // namespace

Status RunCacheService(const std::string& cas_dir, const CacheServiceOptions& options) {
  ServicePaths paths(cas_dir);
  CF_TRY(MakePrivateDir(paths.dir));
  CF_TRY(MakePrivateDir(std::filesystem::path(paths.socket).parent_path().string()));
  CF_ASSIGN_OR_RETURN(UniqueFd lock, OpenLockFile(paths.lock));
  CF_ASSIGN_OR_RETURN(bool mine, Flock(lock, LOCK_EX | LOCK_NB, paths.lock));
  if (!mine) return Status::Ok();  // another service won the start race
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock.get(), 0) != 0 || ::pwrite(lock.get(), pid.data(), pid.size(), 0) < 0)
    return Status::FromErrno("writing " + paths.lock, errno);
  CF_ASSIGN_OR_RETURN(UniqueFd lease, OpenLockFile(paths.lease));
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads started below inherit it
  cas::LocalStoreOptions store_options;
  // A crossfarm of an earlier release may still hold the store directly.
  store_options.lock_wait = std::chrono::seconds(60);
  CF_ASSIGN_OR_RETURN(auto store, cas::LocalStore::Open(cas_dir, store_options));
  cas::ServerOptions server_options;
  server_options.listen = "ipc://" + paths.socket;
  server_options.threads = options.threads;
  server_options.serve_paths = true;
  CF_ASSIGN_OR_RETURN(auto server, cas::CasServer::Start(*store, server_options));
  ServeUntilIdle(lease, paths, options.linger, signals);
  server->Stop();
  server.reset();
  store.reset();
  ::unlink(paths.socket.c_str());
  return Status::Ok();
}

}  // namespace crossfarm::client
