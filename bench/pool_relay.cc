// What sealing the distcc pool traffic costs (worker/pool_crypto.h): the same
// bytes through the relay's path twice, once with the plain Splice the pool used
// before, once through two SealedSplice ends (relay seals, gateway opens), over
// real loopback TCP between them. Prints MB/s of each and their ratio.
//
//   bench_pool_relay [MiB]      (default 256)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench/bench_util.h"
#include "worker/accel.h"
#include "worker/pool_crypto.h"
#include "worker/process.h"

namespace crossfarm::bench {
namespace {

using worker::UniqueFd;

std::pair<UniqueFd, UniqueFd> TcpPair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    std::abort();
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) std::abort();
  return {std::move(client), UniqueFd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC))};
}

// Writes `bytes` into `in`, reads them from `out`; seconds from first write to last read.
double Pump(int in, int out, uint64_t bytes) {
  std::thread writer([in, bytes] {
    std::string chunk(64 * 1024, 'x');
    for (uint64_t sent = 0; sent < bytes;) {
      ssize_t n = ::send(in, chunk.data(), std::min<uint64_t>(chunk.size(), bytes - sent), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<uint64_t>(n);
    }
    ::shutdown(in, SHUT_WR);
  });
  double t0 = NowSeconds();
  char buf[64 * 1024];
  uint64_t got = 0;
  while (true) {
    ssize_t n = ::recv(out, buf, sizeof buf, 0);
    if (n <= 0) break;
    got += static_cast<uint64_t>(n);
  }
  double seconds = NowSeconds() - t0;
  writer.join();
  if (got != bytes) {
    std::fprintf(stderr, "bench_pool_relay: moved %llu of %llu bytes\n", static_cast<unsigned long long>(got),
                 static_cast<unsigned long long>(bytes));
    std::exit(1);
  }
  return seconds;
}

// distcc -> relay end -> TCP -> gateway end -> distccd, each end a thread.
double Plain(uint64_t bytes) {
  auto distcc = TcpPair(), link = TcpPair(), distccd = TcpPair();
  worker::CancelToken stop;
  std::thread relay([&] { worker::Splice(distcc.second.get(), link.first.get(), stop.fd()); });
  std::thread gateway([&] { worker::Splice(link.second.get(), distccd.first.get(), stop.fd()); });
  double s = Pump(distcc.first.get(), distccd.second.get(), bytes);
  stop.Cancel();
  relay.join();
  gateway.join();
  return s;
}

double Sealed(uint64_t bytes) {
  auto distcc = TcpPair(), link = TcpPair(), distccd = TcpPair();
  worker::CancelToken stop;
  const std::string line = "crossfarm-distcc 1 bench";
  auto r = worker::DerivePoolSession("pool key", "g", "r", line, worker::PoolEnd::kRelay);
  auto g = worker::DerivePoolSession("pool key", "g", "r", line, worker::PoolEnd::kGateway);
  std::thread relay([&] { worker::SealedSplice(distcc.second.get(), link.first.get(), r, stop.fd()); });
  std::thread gateway([&] { worker::SealedSplice(distccd.first.get(), link.second.get(), g, stop.fd()); });
  double s = Pump(distcc.first.get(), distccd.second.get(), bytes);
  stop.Cancel();
  relay.join();
  gateway.join();
  return s;
}

}  // namespace
}  // namespace crossfarm::bench

int main(int argc, char** argv) {
  using namespace crossfarm::bench;
  uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  if (mib == 0) {
    std::fprintf(stderr, "usage: bench_pool_relay [MiB]\n");
    return 2;
  }
  uint64_t bytes = mib << 20;
  // Each twice, alternating, best of two: the machine is shared.
  double plain = 1e9, sealed = 1e9;
  for (int i = 0; i < 2; ++i) {
    plain = std::min(plain, Plain(bytes));
    sealed = std::min(sealed, Sealed(bytes));
  }
  double plain_mbs = static_cast<double>(mib) / plain, sealed_mbs = static_cast<double>(mib) / sealed;
  std::printf("relay, plain splice:  %8.1f MiB/s (%llu MiB in %.2f s)\n", plain_mbs,
              static_cast<unsigned long long>(mib), plain);
  std::printf("relay, AES-256-GCM:   %8.1f MiB/s (%llu MiB in %.2f s)\n", sealed_mbs,
              static_cast<unsigned long long>(mib), sealed);
  std::printf("RESULT plain_mib_s=%.1f sealed_mib_s=%.1f sealed_over_plain=%.2f mib=%llu\n", plain_mbs,
              sealed_mbs, sealed_mbs / plain_mbs, static_cast<unsigned long long>(mib));
  return 0;
}
