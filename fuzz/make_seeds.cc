// Writes the binary seed corpora of the codec and CAS handler targets: one
// message per operation and kind, as the tests build them. Run once by hand
// (`make_seeds fuzz/corpus`); its output is checked in.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "proto/cas_types.h"
#include "proto/scheduler_types.h"

namespace {

using namespace crossfarm;
using namespace crossfarm::proto;

void Write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

void CasSeeds(const std::filesystem::path& codec, const std::filesystem::path& server) {
  const Digest hello = Digest::OfBytes("hello\n"), empty = Digest::OfBytes("");
  DirectoryData dir{.files = {{"a.txt", hello, false}, {"run", empty, true}},
                    .directories = {{"sub", Digest::OfBytes(EncodeDirectory({}))}},
                    .symlinks = {{"link", "a.txt"}}};
  Write(codec, "directory", EncodeDirectory(dir));
  RefInfo ref{.root = Digest::OfBytes(EncodeDirectory(dir)), .element = "hello.bst",
              .arch = "x86_64", .build_log = hello, .worker = "w1", .build_seconds = 3,
              .created_unix = 1700000000, .last_used_unix = 1700000100};
  Write(codec, "ref", EncodeRef(ref));
  for (uint16_t op = 0; op <= static_cast<uint16_t>(CasOp::kVerify); ++op) {
    CasRequest req{.request_id = op, .op = static_cast<CasOp>(op), .digests = {hello, empty},
                   .blobs = {{hello, "hello\n"}, {empty, ""}}, .name = "artifacts/k" + std::to_string(op),
                   .ref = ref, .digest = hello, .quota = 1 << 20};
    Write(codec, "request-" + std::to_string(op), EncodeRequest(req));
    Write(server, "request-" + std::to_string(op), EncodeRequest(req));
  }
  CasResponse resp{.request_id = 7, .status = Status::NotFound("no such blob"), .digests = {hello},
                   .blobs = {{hello, "hello\n"}}, .results = {Status::Ok(), Status::Corruption("x")},
                   .directories = {dir}, .refs = {{"artifacts/k", ref}},
                   .stats = {1, 6, 1, 0}, .gc = {1, 2, 3, 4},
                   .verify = {5, 1, 0, 0, {"artifacts/k"}}};
  Write(codec, "response", EncodeResponse(resp));
}

void SchedulerSeeds(const std::filesystem::path& out) {
  JobSpec spec{.element = "hello.bst", .cache_key = std::string(64, 'a'), .sandbox_arch = "aarch64",
               .inputs = {{.element = "base.bst", .root = Digest::OfBytes("r"),
                           .integration_commands = {"ldconfig"}, .split_rules = {{"devel", {"/usr/include/**"}}}}},
               .sources = {{Digest::OfBytes("s"), "src"}},
               .environment = {{"PATH", "/usr/bin:/bin"}},
               .build_root = "/buildstream/build", .install_root = "/buildstream/install",
               .phases = {{"build", {"make", "make install"}}}, .max_jobs = 4};
  WorkerInfo worker{.name = "w1", .native_archs = {"x86_64"}, .emulated_archs = {"aarch64"}, .slots = 2,
                    .running = {spec.cache_key}, .distcc_address = "127.0.0.1", .distcc_port = 3632,
                    .distcc_slots = 2, .pool_key_id = "abc"};
  JobResultMsg result{.cache_key = spec.cache_key, .success = true, .message = "ok",
                      .artifact = Digest::OfBytes("a"), .log = Digest::OfBytes("l"),
                      .sandbox_arch = "aarch64", .emulated = true, .seconds = 1.5, .worker = "w1"};
  JobRequest request{spec, {""}};
  for (uint16_t kind = 0; kind <= static_cast<uint16_t>(MsgKind::kLogEnd); ++kind) {
    SchedMessage m{.kind = static_cast<MsgKind>(kind), .worker = worker, .spec = spec, .attempt = 1,
                   .result = result, .key = spec.cache_key, .data = "log line\n", .build_id = "b1",
                   .jobs = {request}, .finished = true,
                   .updates = {{"hello.bst", spec.cache_key, RemoteJobState::kRunning, "w1", "", {}}},
                   .status = {{{"w1", {"x86_64"}, {"aarch64"}, 2, 1, 10, {spec.cache_key}}},
                              {{"hello.bst", spec.cache_key, RemoteJobState::kReady, "", "", 0}}, 1,
                              "tcp://127.0.0.1:1", "key"},
                   .error = Status::Unavailable("no worker")};
    Write(out, "message-" + std::to_string(kind), EncodeSchedMessage(m));
  }
  StoredJob job{.request = request, .state = RemoteJobState::kDone, .attempts = 1,
                .artifact = Digest::OfBytes("a"), .message = "ok", .worker = "w1", .builds = {"b1"}};
  Write(out, "stored-job", EncodeStoredJob(job));
  Write(out, "stored-build", EncodeStoredBuild({"b1", {spec.cache_key}, false}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR (fuzz/corpus)\n");
    return 2;
  }
  std::filesystem::path corpus = argv[1];
  CasSeeds(corpus / "cas_codec_fuzzer", corpus / "cas_server_fuzzer");
  SchedulerSeeds(corpus / "scheduler_codec_fuzzer");
  return 0;
}
