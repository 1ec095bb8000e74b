// HttpServer: the daemons' read-only HTTP listener (/metrics, the scheduler's
// status page), over Debian's cpp-httplib. GET only; every other method gets
// 405. Handlers run on the server's own threads: they must be thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace crossfarm::daemon {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
// The request's query parameters (?build=ID) by name.
using HttpQuery = std::map<std::string, std::string>;
using HttpHandler = std::function<HttpReply(const HttpQuery&)>;

// "HOST:PORT", "[V6]:PORT" or "PORT" (then 127.0.0.1: loopback unless an
// address is configured). PORT 0 takes a free port. InvalidArgument otherwise.
Result<std::pair<std::string, int>> ParseListen(const std::string& listen);

class HttpServer {
 public:
  // Binds `listen` (ParseListen) and serves `routes` (exact paths) on a thread.
  // Unavailable when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                   std::map<std::string, HttpHandler> routes);
  ~HttpServer();  // stops and joins
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "http://127.0.0.1:41234" with the real port.
  const std::string& url() const { return url_; }

 private:
  HttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string url_;
};

}  // namespace crossfarm::daemon
