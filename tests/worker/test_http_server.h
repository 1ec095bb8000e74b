// A real HTTP server on 127.0.0.1 (cpp-httplib) for the download sources' tests:
// serves byte strings at paths and counts the requests. Never binds elsewhere.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace crossfarm::worker::testing {

class TestHttpServer {
 public:
  TestHttpServer() {
    server_.Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      std::lock_guard lock(mu_);
      const auto it = files_.find(req.path);
      if (it == files_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second.body, it->second.type);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }
  ~TestHttpServer() {
    server_.stop();
    thread_.join();
  }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  // Serves `body` at `path` ("/x.tar.gz"), replacing what was there.
  void Serve(const std::string& path, std::string body,
             std::string type = "application/octet-stream") {
    std::lock_guard lock(mu_);
    files_[path] = {std::move(body), std::move(type)};
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return requests_; }

 private:
  struct File {
    std::string body, type;
  };
  httplib::Server server_;
  std::mutex mu_;
  std::map<std::string, File> files_;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace crossfarm::worker::testing
