#include "client/log_follow.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "client/remote_build.h"
#include "worker/process.h"

namespace crossfarm::client {
namespace {

using Clock = std::chrono::steady_clock;

// Copies what `fd` holds from its offset on to stdout.
Status Drain(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read the log", errno);
    if (n == 0) break;
    std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
  }
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

Result<bool> FollowLocalLog(const std::string& path) {
  worker::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return false;
    return Err(Status::FromErrno("open " + path, errno));
  }
  for (;;) {
    CF_TRY(Drain(fd.get()));
    // The writer's lock free: the job ended; what it wrote last is read now.
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
      CF_TRY(Drain(fd.get()));
      return true;
    }
    // Polling a file a few times a second: inotify would not see the lock go.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<FollowedJob> FollowRemoteLog(const GlobalOptions& g, const std::string& element,
                                    const std::string& cache_key) {
  CF_ASSIGN_OR_RETURN(auto conn, SchedulerConnection::Open(g));
  proto::SchedMessage follow;
  follow.kind = proto::MsgKind::kFollowLog;
  follow.key = cache_key;
  // The scheduler drops a follower it has not heard from for 30 s.
  constexpr auto kKeepalive = std::chrono::seconds(5);
  auto next_follow = Clock::now();
  bool printed = false;
  std::fprintf(stderr, "crossfarm: following the log of %s on %s\n", element.c_str(), g.remote.c_str());
  for (;;) {
    if (Clock::now() >= next_follow) {
      CF_TRY(conn->Send(follow));
      next_follow = Clock::now() + kKeepalive;
    }
    CF_ASSIGN_OR_RETURN(auto m, conn->Receive(std::chrono::milliseconds(200)));
    if (!m) continue;
    if (m->kind == proto::MsgKind::kError) return Err(m->error);
    if (m->kind == proto::MsgKind::kLogChunk && m->key == cache_key) {
      std::fwrite(m->data.data(), 1, m->data.size(), stdout);
      std::fflush(stdout);
      printed = true;
      continue;
    }
    if (m->kind != proto::MsgKind::kLogEnd || m->updates.empty()) continue;
    const proto::JobUpdate& u = m->updates.front();
    if (printed)
      std::fprintf(stderr, "crossfarm: %s %s%s\n", element.c_str(), proto::RemoteJobStateName(u.state),
                   u.worker.empty() ? "" : (" on " + u.worker).c_str());
    return FollowedJob{printed, u};
  }
}

}  // namespace crossfarm::client
