# crossfarm scheduler protocol, version 1 (docs/protocol.md "Scheduler protocol").
#
# Every ZeroMQ frame between client, scheduler and worker is one Message. The
# version is checked first: a peer speaking another version gets an `error`
# reply naming both versions. Never renumber fields: add new ones.
@0xc5e18e5cd47dc9a6;

$import "/capnp/c++.capnp".namespace("crossfarm::proto::sched");

struct Digest {
  hash @0 :Data;    # 32 bytes SHA-256
  size @1 :UInt64;
}

struct SplitRule {
  domain @0 :Text;
  patterns @1 :List(Text);
}

struct StagedArtifact {
  element @0 :Text;
  root @1 :Digest;            # absent: produced by another job of the DAG
  integrationCommands @2 :List(Text);
  splitRules @3 :List(SplitRule);
  accelerator @4 :Bool;
}

# common/job_spec.h AccelSpec.
struct AccelSpec {
  distcc @0 :Bool;
  hostTools @1 :Bool;
  hostArch @2 :Text;
  targetArch @3 :Text;
  triplet @4 :Text;
  cc @5 :Text;
  cxx @6 :Text;
  hostToolPaths @7 :List(Text);
  hostPaths @8 :List(Text);
  remotePool @9 :List(PoolMember);
}

# A distcc pool member the scheduler hands an emulated job (AccelSpec.remotePool).
struct PoolMember {
  worker @0 :Text;
  address @1 :Text;
  port @2 :UInt32;
  slots @3 :UInt32;
}

struct StagedSource {
  root @0 :Digest;
  directory @1 :Text;
}

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct Phase {
  name @0 :Text;
  commands @1 :List(Text);
}

# common/job_spec.h, field for field.
struct JobSpec {
  element @0 :Text;
  cacheKey @1 :Text;
  kind @2 :UInt8;             # crossfarm::JobKind
  sandboxArch @3 :Text;
  inputs @4 :List(StagedArtifact);
  sources @5 :List(StagedSource);
  environment @6 :List(KeyValue);
  buildRoot @7 :Text;
  installRoot @8 :Text;
  commandSubdir @9 :Text;
  phases @10 :List(Phase);
  network @11 :Bool;
  integrate @12 :Bool;
  includeDomains @13 :List(Text);
  excludeDomains @14 :List(Text);
  includeOrphans @15 :Bool;
  importSource @16 :Text;
  importTarget @17 :Text;
  maxJobs @18 :UInt32;
  accel @19 :AccelSpec;       # absent: no accelerator
  files @20 :List(GeneratedFile);  # kind collect: the artifact's files
  python @21 :PythonElementJob;  # absent: not a Python plugin element
}

# common/job_spec.h GeneratedFile.
struct GeneratedFile {
  path @0 :Text;
  content @1 :Text;
  executable @2 :Bool;
}

# common/job_spec.h PythonElementJob.
struct PythonElementJob {
  kind @0 :Text;
  plugin @1 :Text;
  module @2 :Text;
  element @3 :Text;
  where @4 :Text;
}

# One element of a submitted DAG.
struct JobRequest {
  spec @0 :JobSpec;
  inputKeys @1 :List(Text);   # cache key of each spec.inputs entry, same order
}

enum JobState {
  waiting @0;    # a dependency is not done
  ready @1;      # dependencies done, waiting for a worker slot
  running @2;
  done @3;
  failed @4;     # its command failed, or it ran out of retries
  skipped @5;    # a dependency failed
  cancelled @6;  # every build that wanted it was cancelled
}

# Worker -> scheduler on connect and on every heartbeat (idempotent).
struct WorkerInfo {
  name @0 :Text;
  nativeArchs @1 :List(Text);
  emulatedArchs @2 :List(Text);
  slots @3 :UInt32;
  running @4 :List(Text);     # cache keys of the jobs it runs now
  cacheRoots @5 :List(Text);  # hex hashes of artifact roots checked out locally
  dryRun @6 :Bool;            # --dry-run-jobs (benchmark mode)
  distccAddress @7 :Text;     # pool gateway of a --distcc-slots worker
  distccPort @8 :UInt32;
  distccSlots @9 :UInt32;
  poolKeyId @10 :Text;        # id of the distcc pool key it holds ("" none)
}

struct Assign {
  spec @0 :JobSpec;           # every input root filled in
  attempt @1 :UInt32;
}

# Worker -> scheduler, resent until a resultAck names its cache key.
struct JobResult {
  cacheKey @0 :Text;
  success @1 :Bool;
  infraError @2 :Bool;        # could not be attempted (retried), not a failed command
  message @3 :Text;
  artifact @4 :Digest;
  log @5 :Digest;
  sandboxArch @6 :Text;
  emulated @7 :Bool;
  seconds @8 :Float64;
  worker @9 :Text;
}

struct LogChunk {
  cacheKey @0 :Text;
  data @1 :Data;
}

struct Submit {
  buildId @0 :Text;           # chosen by the client; resubmitting it is a no-op
  jobs @1 :List(JobRequest);  # dependency order
}

struct JobUpdate {
  element @0 :Text;
  cacheKey @1 :Text;
  state @2 :JobState;
  worker @3 :Text;
  detail @4 :Text;            # failure reason, or "aarch64 emulated"
  log @5 :Digest;             # build log in the CAS, when known
}

struct Updates {
  buildId @0 :Text;
  finished @1 :Bool;          # nothing of this build can run any more
  jobs @2 :List(JobUpdate);
}

struct WorkerStatus {
  name @0 :Text;
  nativeArchs @1 :List(Text);
  emulatedArchs @2 :List(Text);
  slots @3 :UInt32;
  busy @4 :UInt32;
  heartbeatAgeMs @5 :UInt64;
  running @6 :List(Text);
}

struct QueuedJob {
  element @0 :Text;
  cacheKey @1 :Text;
  state @2 :JobState;
  reason @3 :Text;            # why a waiting/ready job is not running
  worker @4 :Text;
  attempts @5 :UInt32;
}

struct StatusReply {
  workers @0 :List(WorkerStatus);
  jobs @1 :List(QueuedJob);
  builds @2 :UInt32;
  casUrl @3 :Text;            # where clients upload sources and read artifacts
  casPublicKey @4 :Text;      # Z85; empty: plain TCP
}

struct Error {
  code @0 :UInt16;            # crossfarm::StatusCode
  message @1 :Text;
}

struct Message {
  version @0 :UInt32;         # kSchedulerProtocolVersion
  union {
    register @1 :WorkerInfo;      # worker -> scheduler (also the heartbeat)
    assign @2 :Assign;            # scheduler -> worker
    result @3 :JobResult;         # worker -> scheduler
    resultAck @4 :Text;           # scheduler -> worker: cache key
    logChunk @5 :LogChunk;        # worker -> scheduler -> client
    cancelJob @6 :Text;           # scheduler -> worker: cache key
    submit @7 :Submit;            # client -> scheduler
    watch @8 :Text;               # client -> scheduler: build id (also keepalive)
    updates @9 :Updates;          # scheduler -> client
    cancelBuild @10 :Text;        # client -> scheduler: build id
    statusRequest @11 :Void;      # client -> scheduler
    statusReply @12 :StatusReply; # scheduler -> client
    error @13 :Error;             # any direction: request refused
    poolKey @14 :Data;            # scheduler -> worker: the distcc pool key
    followLog @15 :Text;          # client -> scheduler: cache key of a job whose live log
                                  # to receive as logChunk messages (resent as keepalive)
    logEnd @16 :Updates;          # scheduler -> client: the followed job is not running
                                  # (jobs: its one update, with its log in the CAS if any)
  }
}

# RocksDB values of the scheduler's job store (docs/scheduler.md).
struct StoredJob {
  request @0 :JobRequest;
  state @1 :JobState;
  attempts @2 :UInt32;
  artifact @3 :Digest;
  log @4 :Digest;
  message @5 :Text;
  worker @6 :Text;
  builds @7 :List(Text);
}

struct StoredBuild {
  buildId @0 :Text;
  jobKeys @1 :List(Text);
  cancelled @2 :Bool;
}
