#include "cas/server_metrics.h"

namespace crossfarm::cas {

using proto::CasOp;

void DescribeCasMetrics(metrics::Registry& m, LocalStore& store) {
  m.DescribeCounter("crossfarm_cas_requests_total", "CAS requests served, by operation", {"op"});
  m.DescribeCounter("crossfarm_cas_stored_bytes_total", "Blob bytes uploaded to the CAS");
  m.DescribeCounter("crossfarm_cas_served_bytes_total", "Blob bytes read from the CAS");
  m.DescribeCounter("crossfarm_cas_artifact_lookups_total",
                    "Lookups of artifacts/ refs: hit (cached) or miss (must be built)", {"result"});
  m.DescribeCounter("crossfarm_cas_corruption_found_total",
                    "Blobs and tables found corrupt (on read or by verify), removed");
  m.DescribeCounter("crossfarm_cas_evicted_blobs_total", "Blobs removed by GC (quota or explicit)");
  m.DescribeCounter("crossfarm_cas_evicted_bytes_total", "Blob bytes removed by GC (quota or explicit)");
  m.DescribeGauge("crossfarm_cas_blobs", "Blobs in the store");
  m.DescribeGauge("crossfarm_cas_blob_bytes", "Blob bytes in the store");
  m.DescribeGauge("crossfarm_cas_quota_bytes", "Configured quota (0: unlimited)");
  m.DescribeCounter("crossfarm_refusals_total", "Refused connections and requests, by reason", {"reason"});
  m.AddCollector([&m, &store] {
    m.SetCounter("crossfarm_cas_evicted_blobs_total", {}, static_cast<double>(store.gc_blobs_removed()));
    m.SetCounter("crossfarm_cas_evicted_bytes_total", {}, static_cast<double>(store.gc_bytes_removed()));
    auto stats = store.Stats();
    if (!stats) return;
    m.Set("crossfarm_cas_blobs", {}, static_cast<double>(stats->blob_count));
    m.Set("crossfarm_cas_blob_bytes", {}, static_cast<double>(stats->blob_bytes));
    m.Set("crossfarm_cas_quota_bytes", {}, static_cast<double>(stats->quota_bytes));
  });
}

namespace {

const char* OpLabel(CasOp op) {
  static const char* kNames[] = {"findMissing", "batchUpload", "batchRead", "putLarge", "getManifest",
                                 "getTree", "getRef", "putRef", "deleteRef", "listRefs", "stats", "gc",
                                 "verify"};
  auto i = static_cast<size_t>(op);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

}  // namespace

void CountRequest(metrics::Registry& m, const proto::CasRequest& req, const proto::CasResponse& resp) {
  m.Add("crossfarm_cas_requests_total", {OpLabel(req.op)});
  uint64_t corrupt = resp.status.code() == StatusCode::kCorruption ? 1 : 0;
  for (const auto& r : resp.results) corrupt += r.code() == StatusCode::kCorruption ? 1 : 0;
  switch (req.op) {
    case CasOp::kBatchUpload:
      if (resp.status.ok()) {
        uint64_t bytes = 0;
        for (const auto& b : req.blobs) bytes += b.data.size();
        m.Add("crossfarm_cas_stored_bytes_total", {}, static_cast<double>(bytes));
      }
      break;
    case CasOp::kBatchRead: {
      uint64_t bytes = 0;
      for (const auto& b : resp.blobs) bytes += b.data.size();
      m.Add("crossfarm_cas_served_bytes_total", {}, static_cast<double>(bytes));
      break;
    }
    case CasOp::kGetRef:
      if (req.name.starts_with("artifacts/"))
        m.Add("crossfarm_cas_artifact_lookups_total", {resp.status.ok() ? "hit" : "miss"});
      break;
    case CasOp::kVerify: corrupt += resp.verify.corrupt_removed + resp.verify.tables_removed; break;
    default: break;
  }
  if (corrupt > 0) m.Add("crossfarm_cas_corruption_found_total", {}, static_cast<double>(corrupt));
}

void CountRefusal(metrics::Registry* m, const char* reason) {
  if (m) m->Add("crossfarm_refusals_total", {reason});
}

}  // namespace crossfarm::cas
