// `crossfarm cas ...` (import, export, stats, gc, verify) and `crossfarm keygen`.
#pragma once

#include "client/command.h"

namespace crossfarm::client {

// `cas import DIR` prints the root digest (HASH/SIZE); `cas export DIGEST DIR`;
// `cas stats`; `cas gc [--quota SIZE]`; `cas verify`. Each takes
// --cas DIR|tcp://HOST:PORT (default: <cache dir>/cas) and, for a server with
// CurveZMQ, --server-key SERVER.pub (client key: the global --key).
Action AddCasCommand(CLI::App& app, const GlobalOptions& g);

// `keygen --out NAME` writes NAME.key (0600) and NAME.pub.
Action AddKeygenCommand(CLI::App& app, const GlobalOptions& g);

}  // namespace crossfarm::client
