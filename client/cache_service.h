// The per-user cache service (docs/cas.md "Several commands on one cache").
//
// RocksDB admits one writing process per database, so one process owns
// <cache>/cas and every crossfarm command on that cache talks to it over a
// unix socket, as bst does with buildbox-casd. The first command that needs
// the cache starts it (`crossfarm cas service`, detached); it exits once no
// command has held a lease for `linger`. Tree import and export run inside the
// service (same user, same filesystem), so no file bytes cross the socket and
// checkouts still hard-link the store's files/ cache.
//
// Files in DIR/service/ (0700): `lock` (flock'ed exclusively by the running
// service, holds its pid), `lease` (flock'ed shared by each connected command;
// the service takes it exclusively only to exit), `sock` (the socket, unless
// that path is too long for a unix socket: see SocketPath), `log` (its stderr).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cas/cas.h"

namespace crossfarm::client {

struct CacheServiceOptions {
  // Idle time before the service exits: a script's next command finds it up.
  std::chrono::milliseconds linger{10000};
  int threads = 16;  // server threads: long tree imports must not starve lookups
};

// The ipc:// socket path of the service of `cas_dir`: DIR/service/sock, or
// /tmp/crossfarm-UID/HASH.sock when that is longer than a unix socket allows.
std::string SocketPath(const std::string& cas_dir);

// Connects to the service of `cas_dir` (absolute), starting it if none runs.
// The Cas holds a lease: the service stays up at least as long as it.
// Unavailable (with the service log's tail) if the service cannot start.
Result<std::unique_ptr<cas::Cas>> ConnectCacheService(const std::string& cas_dir);

// Serves `cas_dir` in this process until it has been idle for `linger` or gets
// SIGTERM/SIGINT. Returns Ok at once when another service already runs there.
Status RunCacheService(const std::string& cas_dir, const CacheServiceOptions& options);

}  // namespace crossfarm::client
