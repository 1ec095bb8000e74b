// The CAS request handler (cas/server.cc): a request from raw bytes, decoded,
// authorized for each role and served by a real RocksDB store, its response
// encoded and decoded back, as a server thread and its client do. The store
// lives for the whole run, so requests meet what earlier ones stored.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "cas/server.h"
#include "fuzz/fuzz_util.h"

namespace {

using namespace crossfarm;

struct Fixture {
  worker::TempDir dir = fuzz::ScratchDir("cf-fuzz-cas-");
  std::unique_ptr<cas::LocalStore> store;
  Fixture() {
    // A small quota so uploads meet eviction and GC, no grace so GC sweeps.
    auto s = cas::LocalStore::Open(dir.path() + "/cas",
                                   {.quota_bytes = 8 << 20, .grace = std::chrono::seconds(0)});
    if (!s) std::abort();  // no store: nothing to fuzz
    store = std::move(*s);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;  // one store for the whole run, removed at exit
  auto request = proto::DecodeRequest(fuzz::AsView(data, size));
  if (!request) return 0;
  for (auto role : {cas::KeyRole::kClient, cas::KeyRole::kWorker, cas::KeyRole::kAdmin})
    (void)cas::Authorize(role, *request);
  proto::CasResponse response = cas::HandleRequest(*fixture.store, *request);
  if (!proto::DecodeResponse(proto::EncodeResponse(response))) std::abort();
  return 0;
}
