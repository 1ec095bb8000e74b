// crossfarm-cas: the CAS daemon, a thin main over LocalStore + CasServer
// (start-up, config and signals: daemon/daemon.h).
#include <spdlog/spdlog.h>

#include "cas/cas.h"
#include "cas/server.h"
#include "cas/server_metrics.h"
#include "daemon/daemon.h"
#include "daemon/keys.h"

namespace {

using crossfarm::Result;
using crossfarm::Status;
using crossfarm::daemon::OptionKind;
using crossfarm::daemon::Settings;

const crossfarm::daemon::DaemonSpec kSpec{
    "crossfarm-cas",
    "crossfarm-cas: content-addressed store server",
    {
        {.name = "listen", .help = "tcp://ADDR:PORT to bind (PORT may be *)", .required = true},
        {.name = "dir", .kind = OptionKind::kPath, .help = "store directory (created if needed)", .required = true},
        {.name = "quota", .help = "size limit, e.g. 10G (0: unlimited)", .default_value = "0"},
        {.name = "grace", .kind = OptionKind::kInt, .help = "seconds unreferenced uploads survive GC",
         .default_value = "3600", .max = 365LL * 86400},
        {.name = "key", .kind = OptionKind::kPath,
         .help = "server key file from `crossfarm keygen` (enables CurveZMQ)"},
        {.name = "allow", .kind = OptionKind::kPath,
         .help = "allow list: client public keys and roles, one per line (re-read on SIGHUP)",
         .reloadable = true},
        {.name = "threads", .kind = OptionKind::kInt, .help = "worker threads", .default_value = "4",
         .min = 1, .max = 64},
    }};

Result<crossfarm::cas::ServerOptions> ServerOptionsFrom(const Settings& s) {
  crossfarm::cas::ServerOptions options;
  options.listen = s.Str("listen");
  options.threads = static_cast<int>(s.Int("threads"));
  CF_ASSIGN_OR_RETURN(auto pair, crossfarm::daemon::LoadKeyOption(s, "key"));
  if (!pair) return options;
  options.public_key = pair->public_key;
  options.secret_key = pair->secret_key;
  if (!s.Has("allow"))
    return crossfarm::Err(Status::InvalidArgument(
        "--key needs --allow FILE (client public keys, one per line)"));
  CF_ASSIGN_OR_RETURN(options.allowed_keys, crossfarm::daemon::LoadAllowOption(s, "allow"));
  return options;
}

class CasDaemon : public crossfarm::daemon::Service {
 public:
  static Result<std::unique_ptr<Service>> Start(const Settings& s, crossfarm::daemon::DaemonContext& ctx) {
    crossfarm::cas::LocalStoreOptions store_options;
    auto quota = crossfarm::cas::ParseByteSize(s.Str("quota"));
    if (!quota) return crossfarm::Err(quota.error().WithContext(s.Where("quota") + " (quota)"));
    store_options.quota_bytes = *quota;
    store_options.grace = std::chrono::seconds(s.Int("grace"));
    CF_ASSIGN_OR_RETURN(auto options, ServerOptionsFrom(s));
    options.metrics = &ctx.metrics;
    auto d = std::make_unique<CasDaemon>();
    CF_ASSIGN_OR_RETURN(d->store_, crossfarm::cas::LocalStore::Open(s.Str("dir"), store_options));
    crossfarm::cas::DescribeCasMetrics(ctx.metrics, *d->store_);
    CF_ASSIGN_OR_RETURN(d->server_, crossfarm::cas::CasServer::Start(*d->store_, options));
    d->curve_ = !options.secret_key.empty();
    return std::unique_ptr<Service>(std::move(d));
  }
  // The allow list, re-read: new keys are admitted and removed ones refused
  // from their next connection; requests in flight finish.
  Status Reload(const Settings& s) override {
    if (!curve_) return Status::Ok();
    CF_ASSIGN_OR_RETURN(auto allowed, crossfarm::daemon::LoadAllowOption(s, "allow"));
    server_->SetAllowedKeys(allowed);
    spdlog::info("cas: allow list reloaded keys={}", allowed.size());
    return Status::Ok();
  }
  void Stop() override { server_->Stop(); }
  std::string endpoint() const override { return server_->endpoint(); }

 private:
  std::unique_ptr<crossfarm::cas::LocalStore> store_;
  std::unique_ptr<crossfarm::cas::CasServer> server_;
  bool curve_ = false;
};

}  // namespace

int main(int argc, char** argv) { return crossfarm::daemon::Main(kSpec, argc, argv, CasDaemon::Start); }
