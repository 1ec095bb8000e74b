// Pool traffic between workers is sealed (worker/pool_crypto.h): over real TCP
// sockets on loopback, what a capture of the wire sees, what a wrong key gets,
// and the real PoolRelay talking to a gateway impostor (needs root).
#include "worker/pool_crypto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "worker/accel.h"
#include "worker/process.h"

namespace crossfarm::worker {
namespace {

// Preprocessed C as distcc sends it, with a name no cipher text will contain.
std::string PreprocessedSource() {
  std::string text;
  for (int i = 0; i < 4000; ++i)
    text += "# 1 \"hello.c\"\nint crossfarm_secret_function_" + std::to_string(i) + "(void) { return 42; }\n";
  return text;
}

// A connected TCP pair on 127.0.0.1.
std::pair<UniqueFd, UniqueFd> TcpPair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listener.get(), 1);
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  return {std::move(client), UniqueFd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC))};
}

std::pair<UniqueFd, UniqueFd> LocalPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return {};
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

bool SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Everything until EOF (or 10 s without a byte).
std::string RecvAll(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return out;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Forwards between two sockets, keeping a copy of every byte: the capture.
// Ends when both sides are done, a side is gone, or `stop_fd` is readable.
void CaptureProxy(int a, int b, std::string& a_to_b, std::string& b_to_a, int stop_fd) {
  bool a_open = true, b_open = true;
  char buf[65536];
  while (a_open || b_open) {
    pollfd p[3] = {{a, static_cast<short>(a_open ? POLLIN : 0), 0},
                   {b, static_cast<short>(b_open ? POLLIN : 0), 0},
                   {stop_fd, POLLIN, 0}};
    if (::poll(p, 3, 10000) <= 0 || p[2].revents) return;
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? a_open : b_open;
      if (!open || !p[i].revents) continue;
      ssize_t n = ::recv(i == 0 ? a : b, buf, sizeof buf, 0);
      int to = i == 0 ? b : a;
      if (n <= 0) {
        open = false;
        ::shutdown(to, SHUT_WR);
        continue;
      }
      (i == 0 ? a_to_b : b_to_a).append(buf, static_cast<size_t>(n));
      if (!SendAll(to, std::string(buf, static_cast<size_t>(n)))) return;
    }
  }
}

struct Wire {
  // distcc -> [relay_plain | SealedSplice | relay_sealed] -> capture ->
  // [gateway_sealed | SealedSplice | gateway_plain] -> distccd
  std::pair<UniqueFd, UniqueFd> distcc = LocalPair(), distccd = LocalPair();
  std::pair<UniqueFd, UniqueFd> to_proxy = TcpPair(), from_proxy = TcpPair();
  std::string up, down;  // captured: towards the gateway, back
  CancelToken stop;
};

const char* kLine = "crossfarm-distcc 1 abc/1 x86_64 aarch64-linux-gnu gcc - -";

TEST(PoolCryptoTest, TheWireCarriesNoPlaintextAndBothEndsGetEveryByte) {
  Wire w;
  auto relay = DerivePoolSession("k", "gn", "rn", kLine, PoolEnd::kRelay);
  auto gateway = DerivePoolSession("k", "gn", "rn", kLine, PoolEnd::kGateway);
  EXPECT_EQ(relay.seal_key, gateway.open_key);
  EXPECT_NE(relay.seal_key, relay.open_key);
  auto r = std::async(std::launch::async, [&] {
    return SealedSplice(w.distcc.second.get(), w.to_proxy.first.get(), relay, w.stop.fd());
  });
  std::thread proxy([&] { CaptureProxy(w.to_proxy.second.get(), w.from_proxy.first.get(), w.up, w.down, w.stop.fd()); });
  auto g = std::async(std::launch::async, [&] {
    return SealedSplice(w.distccd.first.get(), w.from_proxy.second.get(), gateway, w.stop.fd());
  });
  const std::string source = PreprocessedSource();
  const std::string object = "\x7f" "ELF object of crossfarm_secret_function_0";
  ASSERT_TRUE(SendAll(w.distcc.first.get(), source));
  ::shutdown(w.distcc.first.get(), SHUT_WR);
  EXPECT_EQ(RecvAll(w.distccd.second.get()), source);
  ASSERT_TRUE(SendAll(w.distccd.second.get(), object));
  ::shutdown(w.distccd.second.get(), SHUT_WR);
  EXPECT_EQ(RecvAll(w.distcc.first.get()), object);
  SplicedBytes relay_moved = r.get(), gateway_moved = g.get();
  proxy.join();
  EXPECT_TRUE(relay_moved.clean);
  EXPECT_TRUE(gateway_moved.clean);
  EXPECT_EQ(relay_moved.sealed, source.size());
  EXPECT_EQ(gateway_moved.opened, source.size());
  EXPECT_GT(w.up.size(), source.size());  // every byte crossed, sealed
  EXPECT_EQ(w.up.find("crossfarm_secret_function"), std::string::npos);
  EXPECT_EQ(w.up.find("hello.c"), std::string::npos);
  EXPECT_EQ(w.down.find("crossfarm_secret_function"), std::string::npos);
}

TEST(PoolCryptoTest, AGatewayWithAnotherKeyGetsNothingThrough) {
  Wire w;
  auto relay = DerivePoolSession("the cluster's key", "gn", "rn", kLine, PoolEnd::kRelay);
  auto impostor = DerivePoolSession("a guess", "gn", "rn", kLine, PoolEnd::kGateway);
  auto r = std::async(std::launch::async, [&] {
    return SealedSplice(w.distcc.second.get(), w.to_proxy.first.get(), relay, w.stop.fd());
  });
  std::thread proxy([&] { CaptureProxy(w.to_proxy.second.get(), w.from_proxy.first.get(), w.up, w.down, w.stop.fd()); });
  auto g = std::async(std::launch::async, [&] {
    SplicedBytes moved = SealedSplice(w.distccd.first.get(), w.from_proxy.second.get(), impostor, w.stop.fd());
    w.from_proxy.second = UniqueFd();  // what the gateway does when its splice ends
    w.distccd.first = UniqueFd();
    return moved;
  });
  // distcc writes from its own thread: once the impostor hangs up, nothing
  // drains the wire, and the write can only end when the relay's end closes.
  auto sender = std::async(std::launch::async, [&] {
    bool sent = SendAll(w.distcc.first.get(), PreprocessedSource());
    ::shutdown(w.distcc.first.get(), SHUT_WR);
    return sent;
  });
  EXPECT_EQ(RecvAll(w.distccd.second.get()), "");  // distccd never sees a byte
  SplicedBytes gateway_moved = g.get();
  EXPECT_FALSE(gateway_moved.clean);
  EXPECT_EQ(gateway_moved.opened, 0u);
  w.stop.Cancel();
  ASSERT_EQ(r.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "the relay ignored the cancel";
  EXPECT_FALSE(r.get().clean);
  w.distcc.second = UniqueFd();  // what the relay does when its splice ends
  sender.get();
  proxy.join();
}

// Regression (CI hang of 2026-12-06): a splice whose sealed peer stops
// reading blocked in send() for ever and never saw the cancel. Now a full
// socket buffer waits in poll beside the stop fd.
TEST(PoolCryptoTest, ASpliceBlockedOnAPeerThatStopsReadingEndsOnCancel) {
  auto plain = LocalPair(), sealed = LocalPair();  // nobody reads sealed.second
  CancelToken stop;
  auto session = DerivePoolSession("k", "gn", "rn", kLine, PoolEnd::kRelay);
  auto splice = std::async(std::launch::async, [&] {
    return SealedSplice(plain.second.get(), sealed.first.get(), session, stop.fd());
  });
  auto writer = std::async(std::launch::async, [&] {
    // Far more than the two socket buffers hold, so the splice must block.
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 16; ++i)
      if (!SendAll(plain.first.get(), chunk)) return false;
    return true;
  });
  ASSERT_EQ(splice.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout);
  stop.Cancel();
  ASSERT_EQ(splice.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "the splice ignored the cancel";
  SplicedBytes moved = splice.get();
  EXPECT_FALSE(moved.clean);
  EXPECT_LT(moved.sealed, 16u << 20);
  plain.second = UniqueFd();
  EXPECT_FALSE(writer.get());
}

// The real relay (in a job's private network) to a gateway impostor on this
// host that speaks the handshake but has no key: all it records after the
// handshake is sealed records.
TEST(PoolCryptoTest, TheRelaySealsWhatDistccSends) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN)";
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  auto net = PrivateNetwork::Create();
  ASSERT_TRUE(net.has_value()) << net.error().ToString();
  std::vector<PoolMember> members = {{"member", "127.0.0.1", ntohs(addr.sin_port), 1}};
  auto relay = PoolRelay::Start(net->fd(), members, std::string(kLine) + "\n", "the cluster's key", 3641);
  ASSERT_TRUE(relay.has_value()) << relay.error().ToString();
  const std::string source = PreprocessedSource();
  std::thread distcc([&] {
    auto scope = NetnsScope::Enter(net->fd());
    if (!scope) return;
    UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(3641);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) return;
    SendAll(c.get(), source);
    ::shutdown(c.get(), SHUT_WR);
    RecvAll(c.get());
  });
  UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  ASSERT_TRUE(SendAll(conn.get(), "crossfarm-pool-nonce 0123456789abcdef\n"));
  std::string seen;
  while (seen.size() < source.size()) {
    pollfd p{conn.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    char buf[65536];
    ssize_t n = ::recv(conn.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  conn = UniqueFd();
  distcc.join();
  ASSERT_GT(seen.size(), source.size()) << seen.substr(0, 200);
  EXPECT_TRUE(seen.starts_with(std::string(kLine) + "\ncrossfarm-pool-auth ")) << seen.substr(0, 200);
  EXPECT_EQ(seen.find("crossfarm_secret_function"), std::string::npos);
  EXPECT_EQ(seen.find("hello.c"), std::string::npos);
}

}  // namespace
}  // namespace crossfarm::worker
