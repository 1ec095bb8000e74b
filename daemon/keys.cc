#include "daemon/keys.h"

namespace crossfarm::daemon {

namespace {

Status Where(const Settings& s, const std::string& name, const Status& error) {
  return error.WithContext(s.Where(name) + " (" + name + ")");
}

}  // namespace

Result<std::optional<cas::CurveKeyPair>> LoadKeyOption(const Settings& s, const std::string& name) {
  if (s.Str(name).empty()) return std::optional<cas::CurveKeyPair>();
  auto pair = cas::LoadSecretKey(s.Str(name));
  if (!pair) return Err(Where(s, name, pair.error()));
  return std::optional<cas::CurveKeyPair>(std::move(*pair));
}

Result<std::string> LoadPublicKeyOption(const Settings& s, const std::string& name) {
  if (s.Str(name).empty()) return std::string();
  auto key = cas::LoadPublicKey(s.Str(name));
  if (!key) return Err(Where(s, name, key.error()));
  return std::move(*key);
}

Result<std::vector<cas::AllowedKey>> LoadAllowOption(const Settings& s, const std::string& name) {
  auto list = cas::LoadAllowList(s.Str(name));
  if (!list) return Err(Where(s, name, list.error()));
  return std::move(*list);
}

}  // namespace crossfarm::daemon
