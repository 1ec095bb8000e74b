#include "worker/python_element.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/digest.h"

namespace crossfarm::worker {
namespace fs = std::filesystem;
namespace {

void Append(const LogSink& log, std::string_view text) {
  if (text.empty()) return;
  if (!log.path.empty()) {
    std::ofstream f(log.path, std::ios::app | std::ios::binary);
    f << text;
  }
  if (log.callback) log.callback(text);
}

// The module as shipped in the job, written once per content under the work
// dir (the host imports it by path; its digest names it).
Result<std::string> WriteModule(const PythonElementJob& py, const std::string& work_dir) {
  std::string hex = Sha256Hex(py.module);
  std::string dir = work_dir + "/python-plugins/" + hex;
  std::string file = dir + "/" + py.kind + ".py";
  std::error_code ec;
  if (fs::exists(file, ec)) return file;
  fs::create_directories(dir, ec);
  if (ec) return Err(Status::IOError("cannot create " + dir + ": " + ec.message()));
  std::string tmp = file + ".tmp" + std::to_string(::getpid()) + "-" +
                    std::to_string(reinterpret_cast<uintptr_t>(&py));
  {
    std::ofstream out(tmp, std::ios::binary);
    out << py.module;
    if (!out.flush()) return Err(Status::IOError("cannot write " + tmp));
  }
  fs::rename(tmp, file, ec);
  if (ec) return Err(Status::IOError("cannot write " + file + ": " + ec.message()));
  return file;
}

// bst SandboxFlags.ROOT_READ_ONLY.
constexpr int kRootReadOnly = 1;

Result<Json> RunCall(const Sandbox& sandbox, const SandboxSpec& sb, const Json& call,
                     const LogSink& log, const RunControl& control) {
  if (call.value("call", "") != "run")
    return Err(Status::InvalidArgument("unknown call " + call.value("call", "")));
  SandboxSpec s = sb;
  s.cwd = call.value("cwd", sb.cwd);
  if (call.contains("env") && call["env"].is_object()) {
    s.env.clear();
    for (const auto& [k, v] : call["env"].items())
      s.SetEnv(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  if (call.value("flags", 0) & kRootReadOnly) s.root_access = Access::kReadOnly;
  std::vector<std::string> argv = call.value("argv", std::vector<std::string>{});
  if (argv.empty()) return Err(Status::InvalidArgument("sandbox.run() of an empty command"));
  Append(log, "# crossfarm: plugin runs:");
  for (const auto& a : argv) Append(log, " " + a);
  Append(log, "\n");
  CF_ASSIGN_OR_RETURN(ExitInfo exit, sandbox.Run(s, argv, log, control));
  if (exit.cancelled) return Err(Status::Cancelled("cancelled"));
  int code = exit.signal > 0 ? 128 + exit.signal : exit.exit_code;
  return Json{{"exit_code", code}};
}

}  // namespace

Result<PythonAssembly> RunPythonElement(PluginHostPool& pool, const Sandbox& sandbox,
                                        const JobSpec& spec, const SandboxSpec& sb,
                                        const std::string& work_dir, const LogSink& log,
                                        const RunControl& control) {
  const PythonElementJob& py = *spec.python;
  CF_ASSIGN_OR_RETURN(std::string file, WriteModule(py, work_dir));
  Json element = Json::parse(py.element, nullptr, false);
  if (element.is_discarded()) return Err(Status::InvalidArgument("bad python element job"));
  Json req{{"op", "element.assemble"},
           {"plugin", {{"kind", py.kind}, {"file", file}, {"element", true}}},
           {"element", element},
           {"root", sb.root}};
  Append(log, "# crossfarm: " + py.plugin + " assembles " + spec.element + "\n");
  PythonAssembly out;
  auto fail = [&](const Status& s) {
    out.failure = Status::BuildFailed(py.where + ": " + spec.element + ": " + py.plugin +
                                      " failed in assemble: " + s.message());
    return out;
  };
  auto host = pool.Acquire();
  if (!host) return fail(host.error());
  auto on_call = [&](const Json& call) { return RunCall(sandbox, sb, call, log, control); };
  auto result = (*host)->Request(req, on_call, [&](std::string_view t) { Append(log, t); });
  if (!result) return fail(result.error());
  std::string collect = result->value("collect", "");
  std::string dir = (fs::path(sb.root) / fs::path(collect).relative_path()).lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return fail(Status::InvalidArgument("assemble() returned '" + collect +
                                        "', which is not a directory of the sandbox"));
  out.ok = true;
  out.collect_dir = dir;
  return out;
}

}  // namespace crossfarm::worker
