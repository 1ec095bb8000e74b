// The CAS server's Prometheus metrics (docs/operations.md "Metrics"): what
// CasServer counts per request, and the store figures read at each scrape.
#pragma once

#include "cas/local_store.h"
#include "metrics/registry.h"
#include "proto/cas_types.h"

namespace crossfarm::cas {

// Declares the CAS metrics and a collector reading `store`'s size and GC totals.
void DescribeCasMetrics(metrics::Registry& m, LocalStore& store);
// One served request: op count, bytes stored/served, artifact hits/misses,
// corruption found.
void CountRequest(metrics::Registry& m, const proto::CasRequest& req, const proto::CasResponse& resp);
// A refused request or connection, by reason (unknown_key, revoked_key, role,
// malformed, version).
void CountRefusal(metrics::Registry* m, const char* reason);

}  // namespace crossfarm::cas
