#include "common/accel.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "common/arch.h"
#include "common/digest.h"
#include "common/element.h"
#include "common/node.h"
#include "common/provenance.h"
#include "common/variables.h"

namespace crossfarm {

Result<AccelMode> ParseAccelMode(std::string_view text) {
  if (text == "auto") return AccelMode::kAuto;
  if (text == "none") return AccelMode::kNone;
  if (text == "distcc") return AccelMode::kDistcc;
  if (text == "host-tools") return AccelMode::kHostTools;
  return Err(Status::InvalidArgument("unknown --accel mode '" + std::string(text) +
                                     "'\n  hint: use auto, none, distcc or host-tools"));
}

const char* AccelModeName(AccelMode mode) {
  switch (mode) {
    case AccelMode::kAuto: return "auto";
    case AccelMode::kNone: return "none";
    case AccelMode::kDistcc: return "distcc";
    case AccelMode::kHostTools: return "host-tools";
  }
  return "?";
}

bool IsMachineReportingTool(std::string_view path) {
  // uname/arch: config.guess and `uname -m`; dpkg: --print-architecture;
  // getconf: LONG_BIT and friends come from the libc it was built for.
  static constexpr std::array<std::string_view, 6> kNames = {"uname", "arch", "dpkg", "getconf",
                                                             "ldconfig", "ldd"};
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return std::ranges::find(kNames, base) != kNames.end();
}

namespace {

Result<NodePtr> CrossfarmDomain(const Element& e) {
  if (!e.public_tree || !e.public_tree->IsMapping()) return NodePtr{};
  return GetMapping(*e.public_tree, "crossfarm");
}

Result<std::string> ArchField(const Node& map, std::string_view key) {
  CF_ASSIGN_OR_RETURN(std::string name, GetString(map, key, std::nullopt));
  auto arch = LookupArch(name);
  if (!arch)
    return Err(UserError(map.Get(key)->Where(), "unknown arch '" + name + "' in " + std::string(key),
                     "use a name like x86_64, aarch64, s390x (or a Debian name like arm64)"));
  return std::string((*arch)->name);
}

Result<std::string> AbsolutePath(const Node& map, std::string_view key, bool required) {
  CF_ASSIGN_OR_RETURN(std::string path,
                      GetString(map, key, required ? std::nullopt : std::optional<std::string>("")));
  if (!path.empty() && path.front() != '/')
    return Err(UserError(map.Get(key)->Where(), std::string(key) + " '" + path + "' is not absolute",
                     "give the path inside the accelerator's artifact, e.g. /usr/bin/" + path));
  return path;
}

}  // namespace

Result<std::string> DeclaredAccelerator(const Element& e) {
  CF_ASSIGN_OR_RETURN(NodePtr domain, CrossfarmDomain(e));
  if (!domain) return std::string();
  CF_TRY(ValidateKeys(*domain, {"accelerator", "accelerates"}, "public crossfarm"));
  return GetString(*domain, "accelerator", "");
}

Result<AcceleratorInfo> ParseAcceleratorInfo(const Element& accelerator) {
  CF_ASSIGN_OR_RETURN(NodePtr domain, CrossfarmDomain(accelerator));
  NodePtr map = domain ? domain->Get("accelerates") : nullptr;
  if (map && map->IsMapping()) {
    // One declaration serves every target arch: its values may name the
    // accelerator's variables (%{target-arch}, %{target-triplet}, ...), as bst
    // substitutes integration-commands. The public tree itself stays as
    // written (it is part of the cache key, as in bst).
    NodePtr vars = Node::MakeMapping();
    for (const auto& [k, v] : accelerator.variables) vars->Set(k, Node::MakeScalar(v));
    CF_ASSIGN_OR_RETURN(Variables resolved, Variables::Resolve(*vars));
    map = map->Clone();
    CF_TRY(resolved.SubstTree(*map));
  }
  if (!map || !map->IsMapping())
    return Err(UserError(accelerator.where,
                     accelerator.name + " is named as an accelerator but has no "
                                        "`public: crossfarm: accelerates:` mapping",
                     "declare target-arch, host-arch, triplet, cc and host-tools there "
                     "(docs/acceleration.md)"));
  CF_TRY(ValidateKeys(*map, {"target-arch", "host-arch", "triplet", "cc", "c++", "distcc", "host-tools",
                       "host-paths"},
                      "crossfarm accelerates"));
  AcceleratorInfo info;
  CF_ASSIGN_OR_RETURN(info.target_arch, ArchField(*map, "target-arch"));
  CF_ASSIGN_OR_RETURN(info.host_arch, ArchField(*map, "host-arch"));
  CF_ASSIGN_OR_RETURN(info.triplet, GetString(*map, "triplet", std::nullopt));
  CF_ASSIGN_OR_RETURN(info.cc, AbsolutePath(*map, "cc", true));
  CF_ASSIGN_OR_RETURN(info.cxx, AbsolutePath(*map, "c++", false));
  CF_ASSIGN_OR_RETURN(info.distcc, GetBool(*map, "distcc", false));
  CF_ASSIGN_OR_RETURN(info.host_tools, GetStringList(*map, "host-tools"));
  NodePtr tools = map->Get("host-tools");
  for (size_t i = 0; i < info.host_tools.size(); ++i) {
    const std::string& t = info.host_tools[i];
    Provenance where = tools->items[i]->Where();
    if (t.empty() || t.front() != '/')
      return Err(UserError(where, "host tool '" + t + "' is not an absolute path",
                       "list paths inside the root, e.g. /bin/sed"));
    if (IsMachineReportingTool(t))
      return Err(UserError(where, "host tool " + t + " reports the machine it runs on",
                       "remove it: a build must see the sandbox's arch (uname, arch, dpkg, "
                       "getconf, ldconfig and ldd always stay the root's own)"));
  }
  CF_ASSIGN_OR_RETURN(info.host_paths, GetStringList(*map, "host-paths"));
  for (size_t i = 0; i < info.host_paths.size(); ++i)
    if (info.host_paths[i].empty() || info.host_paths[i].front() != '/')
      return Err(UserError(map->Get("host-paths")->items[i]->Where(),
                           "host path '" + info.host_paths[i] + "' is not absolute",
                           "list paths inside the accelerator, e.g. /usr/lib/x86_64-linux-gnu"));
  std::sort(info.host_tools.begin(), info.host_tools.end());
  info.host_tools.erase(std::unique(info.host_tools.begin(), info.host_tools.end()),
                        info.host_tools.end());
  return info;
}

std::string EffectiveAccel(AccelMode mode, const AcceleratorInfo& info) {
  bool distcc = info.distcc && (mode == AccelMode::kAuto || mode == AccelMode::kDistcc);
  bool tools = !info.host_tools.empty() && (mode == AccelMode::kAuto || mode == AccelMode::kHostTools);
  if (distcc && tools) return "distcc+host-tools";
  if (distcc) return "distcc";
  if (tools) return "host-tools";
  return "";
}

namespace {
constexpr std::string_view kUnaccelerated = "unaccelerated: ";
}  // namespace

std::string EncodeAccelRunNote(const AccelRunNote& note) {
  std::string text = note.probe;
  if (!note.unaccelerated.empty()) text += "\n" + std::string(kUnaccelerated) + note.unaccelerated;
  return text;
}

AccelRunNote DecodeAccelRunNote(std::string_view text) {
  AccelRunNote note;
  size_t eol = text.find('\n');
  note.probe = std::string(text.substr(0, eol));
  while (eol != std::string_view::npos) {
    text.remove_prefix(eol + 1);
    eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    if (line.starts_with(kUnaccelerated)) note.unaccelerated = std::string(line.substr(kUnaccelerated.size()));
  }
  return note;
}

std::string PoolKeyId(std::string_view key) {
  if (key.empty()) return "";
  return Sha256Hex(key).substr(0, 16);  // 8 bytes
}

std::string PoolAuth(std::string_view key, std::string_view nonce, std::string_view header) {
  // The header is covered too: a recorded answer is worthless for another
  // nonce, and the nonce's answer is worthless for another accelerator.
  std::string message = std::string(nonce) + "\n" + std::string(header);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), md, &len);
  return HexEncode(md, len);
}

Result<std::string> NewPoolKey() {
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1)
    return Err(Status::Internal("RAND_bytes failed: no distcc pool key"));
  return key;
}

}  // namespace crossfarm
