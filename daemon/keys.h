// CurveZMQ key files and allow lists named by daemon options, loaded with
// errors that say where the option was set (flag or config file:line).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cas/curve_keys.h"
#include "daemon/config.h"

namespace crossfarm::daemon {

// The key pair in the file option `name` names; nullopt when it is unset.
Result<std::optional<cas::CurveKeyPair>> LoadKeyOption(const Settings& s, const std::string& name);
// The public key in the file option `name` names; "" when it is unset.
Result<std::string> LoadPublicKeyOption(const Settings& s, const std::string& name);
// The allow list option `name` names (cas/curve_keys.h format).
Result<std::vector<cas::AllowedKey>> LoadAllowOption(const Settings& s, const std::string& name);

}  // namespace crossfarm::daemon
