// A source of a local Python plugin (docs/plugins.md): every operation is a
// request to a plugin host (plugins/plugin_host.py). Its hosts have network:
// fetch and track are the only places a plugin may use it.
#include <yaml-cpp/yaml.h>

#include "common/cache_key.h"
#include "worker/plugin_host.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

class PythonSource : public source_internal::SourceBase {
 public:
  PythonSource(const std::string& kind, const YAML::Node& config, const Provenance& where,
               const SourceContext& ctx)
      : SourceBase(where, ctx, ""), kind_(kind) {
    std::string text;
    AppendCanonicalJson(config, text);
    request_ = {{"project_dir", ctx.project_dir},
                {"mirror_dir", ctx.cache_dir},
                {"plugin", {{"kind", kind}, {"file", ctx.python_module}, {"element", false}}},
                {"source", {{"element", where.file}, {"file", where.file},
                            {"config", Json::parse(text)}}}};
  }

  Status Init() {
    CF_ASSIGN_OR_RETURN(Json r, Call("source.key"));
    if (r.value("consistency", "") != "inconsistent") ref_ = r["key"].dump();
    return Status::Ok();
  }
  std::optional<std::string> Ref() const override { return ref_; }
  Result<YAML::Node> Track() override {
    CF_ASSIGN_OR_RETURN(Json r, Call("source.track"));
    try {
      return YAML::Load(r["ref"].dump());
    } catch (const YAML::Exception& e) {
      return Err(Error(std::string("track() of plugin '") + kind_ + "' gave a bad ref: " + e.what()));
    }
  }
  Status Fetch() override {
    auto r = Call("source.fetch");
    return r ? Status::Ok() : r.error();
  }
  Status Stage(const std::string& dest) override {
    Json req = request_;
    req["directory"] = dest;
    auto r = Send(std::move(req));
    return r ? Status::Ok() : r.error();
  }

 private:
  Result<Json> Call(std::string_view op) {
    Json req = request_;
    req["op"] = op;
    return Send(std::move(req));
  }
  Result<Json> Send(Json req) {
    if (!req.contains("op")) req["op"] = "source.stage";
    std::string op = req["op"];
    if (!ctx_.python_hosts) return Err(Error("no plugin host for the Python source '" + kind_ + "'"));
    CF_ASSIGN_OR_RETURN(auto host, ctx_.python_hosts->Acquire());
    auto r = host->Request(req);
    if (!r)
      return Err(Error("source plugin '" + kind_ + "' (" + ctx_.python_module + ") failed in " +
                       op + ": " + r.error().message()));
    return r;
  }

  std::string kind_;
  Json request_;
  std::optional<std::string> ref_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakePythonSource(const std::string& kind, const YAML::Node& config,
                                                 const Provenance& where,
                                                 const SourceContext& ctx) {
  auto src = std::make_unique<PythonSource>(kind, config, where, ctx);
  CF_TRY(src->Init());
  return std::unique_ptr<Source>(std::move(src));
}

}  // namespace crossfarm::worker
