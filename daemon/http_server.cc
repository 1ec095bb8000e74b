#include "daemon/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace crossfarm::daemon {

Result<std::pair<std::string, int>> ParseListen(const std::string& listen) {
  std::string host = "127.0.0.1", port = listen;
  if (auto colon = listen.rfind(':'); colon != std::string::npos) {
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  }
  int p = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() || p < 0 || p > 65535)
    return Err(Status::InvalidArgument("metrics-listen '" + listen +
                                       "' is not HOST:PORT or PORT (e.g. 127.0.0.1:7081, or 0.0.0.0:7081 "
                                       "to serve other hosts)"));
  return std::pair{host, p};
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                      std::map<std::string, HttpHandler> routes) {
  CF_ASSIGN_OR_RETURN(auto addr, ParseListen(listen));
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->server_ = std::make_unique<httplib::Server>();
  // A few threads: scrapes and status pages are small; nothing here may starve
  // the daemon's own work on a 2-core host.
  s->server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  for (auto& [path, handler] : routes)
    s->server_->Get(path, [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
      HttpQuery query(req.params.begin(), req.params.end());
      HttpReply reply = handler(query);
      res.status = reply.status;
      res.set_header("Cache-Control", "no-store");
      res.set_content(reply.body, reply.content_type);
    });
  int port = addr.second;
  bool bound = port == 0 ? (port = s->server_->bind_to_any_port(addr.first)) > 0
                         : s->server_->bind_to_port(addr.first, port);
  if (!bound)
    return Err(Status::Unavailable("cannot listen for HTTP on " + listen +
                                   " (address in use or not local?); change metrics-listen"));
  std::string host = addr.first.find(':') != std::string::npos ? "[" + addr.first + "]" : addr.first;
  s->url_ = "http://" + host + ":" + std::to_string(port);
  s->thread_ = std::thread([server = s->server_.get()] { server->listen_after_bind(); });
  spdlog::info("http: serving url={} paths={}", s->url_, routes.size());
  return s;
}

HttpServer::~HttpServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace crossfarm::daemon
