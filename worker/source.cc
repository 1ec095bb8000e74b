#include "worker/source.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/digest.h"
#include "common/path_flags.h"

extern char** environ;

namespace crossfarm::worker {

// Factories of the kinds, defined in worker/source_<kind>.cc.
Result<std::unique_ptr<Source>> MakeLocalSource(const YAML::Node&, const Provenance&,
                                                const SourceContext&);
Result<std::unique_ptr<Source>> MakeTarSource(const YAML::Node&, const Provenance&,
                                              const SourceContext&);
Result<std::unique_ptr<Source>> MakePatchSource(const YAML::Node&, const Provenance&,
                                                const SourceContext&);
Result<std::unique_ptr<Source>> MakeGitSource(const YAML::Node&, const Provenance&,
                                              const SourceContext&);
Result<std::unique_ptr<Source>> MakeGitTagSource(const YAML::Node&, const Provenance&,
                                                 const SourceContext&);
Result<std::unique_ptr<Source>> MakeGitModuleSource(const YAML::Node&, const Provenance&,
                                                    const SourceContext&);
Result<std::unique_ptr<Source>> MakeCargoSource(const YAML::Node&, const Provenance&,
                                                const SourceContext&);
Result<std::unique_ptr<Source>> MakeRemoteSource(const YAML::Node&, const Provenance&,
                                                 const SourceContext&);
Result<std::unique_ptr<Source>> MakeZipSource(const YAML::Node&, const Provenance&,
                                              const SourceContext&);
Result<std::unique_ptr<Source>> MakeBzrSource(const YAML::Node&, const Provenance&,
                                              const SourceContext&);
Result<std::unique_ptr<Source>> MakeOstreeSource(const YAML::Node&, const Provenance&,
                                                 const SourceContext&);
Result<std::unique_ptr<Source>> MakePipSource(const YAML::Node&, const Provenance&,
                                              const SourceContext&);
Result<std::unique_ptr<Source>> MakeDebSource(const YAML::Node&, const Provenance&,
                                              const SourceContext&);
Result<std::unique_ptr<Source>> MakeDebianSourceSource(const YAML::Node&, const Provenance&,
                                                       const SourceContext&);

namespace {

// The config MakeSource is building on this thread, for source_internal::At:
// factories report positions with At(where, node), and the loader's YAML has
// no marks, so At looks the node up among this config's top-level keys.
struct Building {
  const YAML::Node* config;
  const std::map<std::string, Provenance, std::less<>>* key_where;
};
thread_local const Building* g_building = nullptr;

class BuildingScope {
 public:
  explicit BuildingScope(const Building* b) : saved_(std::exchange(g_building, b)) {}
  ~BuildingScope() { g_building = saved_; }
  BuildingScope(const BuildingScope&) = delete;
  BuildingScope& operator=(const BuildingScope&) = delete;

 private:
  const Building* saved_;
};

using Factory = Result<std::unique_ptr<Source>> (*)(const YAML::Node&, const Provenance&,
                                                    const SourceContext&);
struct KindEntry {
  std::string_view kind;
  Factory make;
};
constexpr KindEntry kKinds[] = {
    {"local", &MakeLocalSource},  {"tar", &MakeTarSource},
    {"patch", &MakePatchSource},  {"git", &MakeGitSource},
    {"deb", &MakeDebSource},      {"debian-source", &MakeDebianSourceSource},
    {"remote", &MakeRemoteSource}, {"zip", &MakeZipSource},
    {"bzr", &MakeBzrSource},      {"ostree", &MakeOstreeSource},
    {"pip", &MakePipSource},
    // buildstream-external 0.x, native (docs/sources.md).
    {"git_tag", &MakeGitTagSource}, {"git_module", &MakeGitModuleSource},
    {"cargo", &MakeCargoSource},
};

}  // namespace

Result<std::unique_ptr<Source>> MakeSource(const std::string& kind, const YAML::Node& config,
                                           const Provenance& where, const SourceContext& ctx) {
  if (!config.IsMap()) {
    return Err(UserError(where, "a source must be a mapping with a `kind:` key"));
  }
  if (!ctx.python_module.empty()) return MakePythonSource(kind, config, where, ctx);
  const Building building{&config, &ctx.key_where};
  const BuildingScope scope(&building);
  for (const auto& entry : kKinds) {
    if (entry.kind != kind) continue;
    try {
      return entry.make(config, where, ctx);
    } catch (const YAML::Exception& e) {
      return Err(UserError(where, std::string("bad ") + kind + " source: " + e.what()));
    }
  }
  std::string kinds;
  for (std::string_view k : SourceKinds()) kinds += (kinds.empty() ? "" : ", ") + std::string(k);
  return Err(UserError(where, "unknown source kind '" + kind + "'", "use one of: " + kinds));
}

std::vector<std::string_view> SourceKinds() {
  std::vector<std::string_view> out;
  for (const auto& entry : kKinds) out.push_back(entry.kind);
  return out;
}

namespace source_internal {

namespace fs = std::filesystem;

Provenance At(const Provenance& where, const YAML::Node& node) {
  Provenance p = where;
  const YAML::Mark mark = node.Mark();
  if (!mark.is_null()) {
    p.line = mark.line + 1;
    p.column = mark.column + 1;
    return p;
  }
  if (g_building == nullptr || !node.IsDefined() || !g_building->config->IsMap()) return p;
  for (const auto& kv : *g_building->config) {
    if (!kv.first.is(node) && !kv.second.is(node)) continue;
    const auto it = g_building->key_where->find(kv.first.Scalar());
    return it == g_building->key_where->end() ? p : it->second;
  }
  return p;
}

Status CheckKeys(const YAML::Node& config, const Provenance& where,
                 std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : config) {
    const std::string key = kv.first.as<std::string>();
    if (key == "kind" || key == "directory") continue;
    bool ok = false;
    std::string list;
    for (std::string_view a : allowed) {
      ok = ok || a == key;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    if (!ok) {
      return UserError(At(where, kv.first), "unknown source key '" + key + "'",
                       "allowed keys: kind, directory" + (list.empty() ? "" : ", " + list));
    }
  }
  return Status::Ok();
}

Result<std::optional<std::string>> OptionalString(const YAML::Node& config, std::string_view key,
                                                  const Provenance& where) {
  const YAML::Node node = config[std::string(key)];
  if (!node.IsDefined() || node.IsNull()) return std::optional<std::string>();
  if (!node.IsScalar()) {
    return Err(UserError(At(where, node), "`" + std::string(key) + ":` must be a string"));
  }
  return std::optional<std::string>(node.Scalar());
}

Result<bool> OptionalBool(const YAML::Node& config, std::string_view key, bool fallback,
                          const Provenance& where) {
  const YAML::Node node = config[std::string(key)];
  if (!node.IsDefined() || node.IsNull()) return fallback;
  bool value = fallback;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return Err(UserError(At(where, node), "`" + std::string(key) + ":` must be true or false"));
  }
  return value;
}

Result<std::string> RequiredString(const YAML::Node& config, std::string_view key,
                                   const Provenance& where) {
  CF_ASSIGN_OR_RETURN(auto value, OptionalString(config, key, where));
  if (!value || value->empty()) {
    return Err(UserError(where, "this source needs a `" + std::string(key) + ":` key"));
  }
  return *value;
}

Result<std::string> ProjectPath(const YAML::Node& config, std::string_view key,
                                const Provenance& where, const SourceContext& ctx,
                                std::string_view what) {
  CF_ASSIGN_OR_RETURN(std::string path, RequiredString(config, key, where));
  // A missing path is reported later, by Fetch, with the element's position.
  if (PathLeavesDir(ctx.project_dir, path)) {
    return Err(UserError(At(where, config[std::string(key)]),
                         std::string(what) + " '" + path + "' is outside the project",
                         "use a path relative to the project directory that stays inside it "
                         "(no '..', no symlink leading out)"));
  }
  return fs::path(path).lexically_normal().string();
}

Result<std::string> SourceBase::StageDir(const std::string& dest) const {
  if (directory_.empty()) return dest;
  const fs::path rel(directory_);
  if (rel.is_absolute() || directory_.find("..") != std::string::npos) {
    return Err(Error("`directory: " + directory_ + "` must be a relative path inside the sandbox",
                     "write it relative to the build root, without '..'"));
  }
  std::error_code ec;
  const std::string dir = (fs::path(dest) / rel).string();
  fs::create_directories(dir, ec);
  if (ec) return Err(Status::IOError("create " + dir + ": " + ec.message()));
  return dir;
}

Status SourceBase::AtSource(const Status& s, std::string_view fix) const {
  if (s.ok()) return s;
  std::string msg = where_.ToString() + ": " + s.message();
  if (!fix.empty()) msg += "\n  hint: " + std::string(fix);
  return Status(s.code(), std::move(msg));
}

Result<std::string> SourceBase::CacheSubdir(std::string_view kind) const {
  if (ctx_.cache_dir.empty()) return Err(Status::FailedPrecondition("no source cache dir set"));
  const std::string dir = ctx_.cache_dir + "/" + std::string(kind);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Err(Status::IOError("create " + dir + ": " + ec.message()));
  return dir;
}

namespace {

// Child side of RunProcess: never returns. Only async-signal-safe calls here, as
// the parent may have other threads; argv/envp were built before fork().
[[noreturn]] void ExecChild(char* const* argv, char* const* envp, const char* cwd, int out_fd) {
  const int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  dup2(out_fd, 1);
  dup2(out_fd, 2);
  if (cwd[0] != '\0' && chdir(cwd) != 0) _exit(127);
  execvpe(argv[0], argv, envp);
  _exit(127);
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::string& cwd,
                                 const std::vector<std::string>& env_extra) {
  std::vector<std::string> env = env_extra;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);  // first wins
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Err(Status::FromErrno("pipe", errno));
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Err(Status::FromErrno("fork", errno));
  }
  if (pid == 0) ExecChild(c_argv.data(), c_env.data(), cwd.c_str(), fds[1]);
  close(fds[1]);
  ProcessResult result;
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) result.output.append(buf, static_cast<size_t>(n));
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (result.exit_code == 127 && result.output.empty()) {
    return Err(Status::FailedPrecondition("cannot run '" + argv[0] +
                                          "': not installed? (scripts/setup installs it)"));
  }
  return result;
}

Result<std::string> RunChecked(const std::vector<std::string>& argv, const std::string& cwd,
                               const std::vector<std::string>& env_extra) {
  CF_ASSIGN_OR_RETURN(ProcessResult r, RunProcess(argv, cwd, env_extra));
  if (r.exit_code == 0) return r.output;
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  // apt commands name every package of a closure: a screenful says nothing.
  constexpr size_t kMaxCommand = 160;
  if (cmd.size() > kMaxCommand)
    cmd = cmd.substr(0, kMaxCommand) + " ... (" + std::to_string(argv.size()) + " arguments)";
  std::string tail = r.output.size() > 2000 ? "..." + r.output.substr(r.output.size() - 2000)
                                            : r.output;
  return Err(Status::Unavailable("`" + cmd + "` exited with " + std::to_string(r.exit_code) +
                                 ":\n" + tail));
}

Result<TempDir> TempDir::Make(const std::string& parent, std::string_view prefix) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string tmpl = parent + "/." + std::string(prefix) + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Err(Status::FromErrno("mkdtemp " + tmpl, errno));
  return TempDir(std::move(tmpl));
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);  // best effort: nothing to report to in a destructor
}

Status MergeMove(const std::string& src, const std::string& dst) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(src, ec)) {
    const fs::path target = fs::path(dst) / entry.path().filename();
    const auto target_status = fs::symlink_status(target, ec);
    if (fs::is_directory(target_status) && entry.is_directory() && !entry.is_symlink()) {
      CF_TRY(MergeMove(entry.path().string(), target.string()));
      continue;
    }
    if (fs::exists(target_status)) fs::remove_all(target, ec);
    fs::rename(entry.path(), target, ec);
    if (ec) return Status::IOError("move " + entry.path().string() + ": " + ec.message());
  }
  if (ec) return Status::IOError("list " + src + ": " + ec.message());
  return Status::Ok();
}

Status CopyTree(const std::string& src, const std::string& dst) {
  std::error_code ec;
  const auto opts = fs::copy_options::recursive | fs::copy_options::copy_symlinks |
                    fs::copy_options::overwrite_existing;
  fs::copy(src, dst, opts, ec);
  if (ec) return Status::IOError("copy " + src + " to " + dst + ": " + ec.message());
  return Status::Ok();
}

std::vector<ControlStanza> ParseControlStanzas(std::string_view text) {
  std::vector<ControlStanza> out;
  ControlStanza current;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else if ((line[0] == ' ' || line[0] == '\t') && !current.empty()) {
      auto& value = current.back().second;
      if (!value.empty()) value += '\n';
      value += line.substr(1);
    } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value[0] == ' ') value.remove_prefix(1);
      current.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::string FieldOf(const ControlStanza& stanza, std::string_view field) {
  for (const auto& [k, v] : stanza) {
    if (k == field) return v;
  }
  return {};
}

std::string UrlDirName(const std::string& url) {
  std::string name;
  for (char c : url) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.size() > 80) name = name.substr(name.size() - 80);
  return name + "-" + Sha256Hex(url).substr(0, 12);
}

std::string LastLine(std::string_view output) {
  while (!output.empty() && std::isspace(static_cast<unsigned char>(output.back()))) {
    output.remove_suffix(1);
  }
  const size_t nl = output.rfind('\n');
  std::string_view line = nl == std::string_view::npos ? output : output.substr(nl + 1);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
    line.remove_prefix(1);
  }
  return std::string(line);
}

Result<std::string> Sha256OfFile(const std::string& path) {
  CF_ASSIGN_OR_RETURN(Digest d, Digest::OfFile(path));
  return d.Hex();
}

}  // namespace source_internal

// --- WriteRefToElementFile: edits the .bst text in place, guided by yaml-cpp marks.

namespace {

namespace fs = std::filesystem;

void CollectPositions(const YAML::Node& node, std::vector<size_t>& out) {
  if (!node.Mark().is_null() && node.Mark().pos >= 0) {
    out.push_back(static_cast<size_t>(node.Mark().pos));
  }
  if (node.IsMap()) {
    for (const auto& kv : node) {
      CollectPositions(kv.first, out);
      CollectPositions(kv.second, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& child : node) CollectPositions(child, out);
  }
}

size_t LineStart(const std::string& text, size_t pos) {
  const size_t nl = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
  return nl == std::string::npos ? 0 : nl + 1;
}

bool IsBlankOrComment(std::string_view line) {
  const size_t first = line.find_first_not_of(" \t\r\n");
  return first == std::string_view::npos || line[first] == '#';
}

// Where the block text of `subtree` ends: the start of the line of the next node
// after it, minus the blank and comment lines just before that (they stay).
size_t BlockEnd(const std::string& text, const std::vector<size_t>& all_positions,
                const YAML::Node& subtree) {
  std::vector<size_t> mine;
  CollectPositions(subtree, mine);
  assert(!mine.empty());  // callers pass maps with keys or non-null values
  const size_t last = *std::max_element(mine.begin(), mine.end());
  const auto next = std::upper_bound(all_positions.begin(), all_positions.end(), last);
  size_t end = next == all_positions.end() ? text.size() : LineStart(text, *next);
  const size_t last_line_end = text.find('\n', last);
  if (last_line_end == std::string::npos) return text.size();
  while (end > last_line_end + 1) {
    const size_t prev = LineStart(text, end - 1);
    if (!IsBlankOrComment(std::string_view(text).substr(prev, end - prev))) break;
    end = prev;
  }
  return std::max(end, last_line_end + 1);
}

// Length of the single-line scalar token at `pos` (quoted or plain); 0 if unsure.
// In flow context a plain scalar also ends at ',', ']' or '}'.
size_t ScalarTokenLength(const std::string& text, size_t pos, bool flow) {
  const char q = text[pos];
  if (q == '\'' || q == '"') {
    for (size_t i = pos + 1; i < text.size() && text[i] != '\n'; ++i) {
      if (q == '"' && text[i] == '\\') {
        ++i;
      } else if (text[i] == q && !(q == '\'' && i + 1 < text.size() && text[i + 1] == q)) {
        return i + 1 - pos;
      } else if (text[i] == q) {
        ++i;  // '' inside a single-quoted scalar
      }
    }
    return 0;
  }
  size_t end = text.find('\n', pos);
  if (end == std::string::npos) end = text.size();
  const size_t comment = text.find(" #", pos);
  if (comment != std::string::npos && comment < end) end = comment;
  if (flow) end = std::min(end, std::min(text.find_first_of(",]}", pos), text.size()));
  while (end > pos && (text[end - 1] == ' ' || text[end - 1] == '\r')) --end;
  return end - pos;
}

// Whether the mapping whose first key is at `pos` is a flow mapping ("{k: v}").
bool IsFlowMapping(const std::string& text, size_t pos) {
  if (pos < text.size() && text[pos] == '{') return true;
  while (pos > 0 && (text[pos - 1] == ' ' || text[pos - 1] == '\t')) --pos;
  return pos > 0 && (text[pos - 1] == '{' || text[pos - 1] == ',');
}

// "ref: VALUE\n" or "ref:\n" + the block, its lines indented by indent + 2.
std::string RenderRef(const YAML::Node& ref, size_t indent) {
  YAML::Emitter out;
  out << YAML::Block << ref;
  const std::string body = out.c_str();
  if (ref.IsScalar()) return "ref: " + body + "\n";
  std::string text = "ref:\n";
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    text += std::string(indent + 2, ' ') + line + "\n";
  }
  return text;
}

Result<std::string> EditRef(const std::string& text, const std::string& bst_path,
                            size_t index, const YAML::Node& new_ref) {
  const YAML::Node root = YAML::Load(text);
  const YAML::Node sources = root["sources"];
  if (!sources.IsSequence() || index >= sources.size()) {
    return Err(Status::NotFound(bst_path + " has no source #" + std::to_string(index + 1)));
  }
  const YAML::Node source = sources[index];
  if (!source.IsMap()) return Err(Status::InvalidArgument(bst_path + ": source is not a map"));
  const bool flow = IsFlowMapping(text, source.Mark().pos);
  const YAML::Node old_ref = source["ref"];
  if (flow && !(old_ref.IsDefined() && old_ref.IsScalar() && new_ref.IsScalar())) {
    return Err(Status::InvalidArgument(bst_path + ": source #" + std::to_string(index + 1) +
                                       " is written in flow style ({...}); write it in block "
                                       "style to let `source track` edit its ref"));
  }
  std::vector<size_t> all;
  CollectPositions(root, all);
  std::sort(all.begin(), all.end());
  for (const auto& kv : source) {
    if (kv.first.Scalar() != "ref") continue;
    const size_t key_pos = kv.first.Mark().pos;
    const size_t value_pos = kv.second.Mark().pos;
    if (kv.second.IsScalar() && new_ref.IsScalar() && value_pos > key_pos) {
      if (const size_t len = ScalarTokenLength(text, value_pos, flow); len > 0) {
        YAML::Emitter out;
        out << new_ref;
        return text.substr(0, value_pos) + out.c_str() + text.substr(value_pos + len);
      }
    }
    // An empty or `~` ref has no reliable mark: it ends with the key's line.
    const size_t line_end = std::min(text.find('\n', key_pos), text.size() - 1) + 1;
    const size_t end = kv.second.IsNull() ? line_end : BlockEnd(text, all, kv.second);
    return text.substr(0, key_pos) + RenderRef(new_ref, kv.first.Mark().column) +
           text.substr(end);
  }
  const size_t end = BlockEnd(text, all, source);
  const size_t indent = source.Mark().column;
  std::string insert = std::string(indent, ' ') + RenderRef(new_ref, indent);
  if (end == text.size() && !text.empty() && text.back() != '\n') insert = "\n" + insert;
  return text.substr(0, end) + insert + text.substr(end);
}

}  // namespace

Status WriteRefToElementFile(const std::string& bst_path, size_t source_index,
                             const YAML::Node& new_ref) {
  std::ifstream in(bst_path, std::ios::binary);
  if (!in) return Status::FromErrno("open " + bst_path, errno);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  Result<std::string> edited;
  try {
    edited = EditRef(text, bst_path, source_index, new_ref);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(bst_path + ": " + e.what());
  }
  if (!edited) return edited.error();
  const std::string tmp = bst_path + ".crossfarm-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << *edited;
    if (!out.flush()) return Status::FromErrno("write " + tmp, errno);
  }
  std::error_code ec;
  fs::rename(tmp, bst_path, ec);
  if (ec) return Status::IOError("replace " + bst_path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace crossfarm::worker
