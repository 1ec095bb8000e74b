# crossfarm CAS schema, format version 1 (docs/cas.md, docs/protocol.md).
#
# Directory is hashed in Cap'n Proto canonical form (capnp::canonicalize), so the
# same tree gives the same digest everywhere. Never renumber fields: add new ones.
@0x8f38a3dae829122c;

$import "/capnp/c++.capnp".namespace("crossfarm::proto::capnp");

struct Digest {
  hash @0 :Data;    # 32 bytes SHA-256
  size @1 :UInt64;  # byte count of the blob
}

struct FileNode {
  name @0 :Text;
  digest @1 :Digest;
  executable @2 :Bool;
}

struct DirectoryNode {
  name @0 :Text;
  digest @1 :Digest;   # digest of the child's canonical Directory
}

struct SymlinkNode {
  name @0 :Text;
  target @1 :Text;
}

# One directory of a Merkle tree. Every list is sorted by name (bytewise) and a
# name appears at most once across all three lists.
struct Directory {
  files @0 :List(FileNode);
  directories @1 :List(DirectoryNode);
  symlinks @2 :List(SymlinkNode);
}

# Value of a ref (artifact cache key or source ref key).
struct Ref {
  root @0 :Digest;
  element @1 :Text;
  arch @2 :Text;
  buildLog @3 :Digest;       # absent when there is no log
  worker @4 :Text;
  buildSeconds @5 :UInt64;
  createdUnix @6 :Int64;
  lastUsedUnix @7 :Int64;
  signer @8 :Data;           # Ed25519 public key (32 bytes) of the worker that signed
  signature @9 :Data;        # Ed25519 signature (64 bytes); docs/security.md
}

# A worker signing key clients trust (op signers): from the CAS allow list.
struct Signer {
  publicKey @0 :Data;        # Ed25519, 32 bytes
  name @1 :Text;             # the name= of its allow-list line, or ""
}

struct NamedRef {
  name @0 :Text;
  ref @1 :Ref;
}

struct Blob {
  digest @0 :Digest;
  data @1 :Data;
}

enum Op {
  findMissing @0;   # digests -> response.digests (the missing ones)
  batchUpload @1;   # blobs (each <= 1 MiB) -> response.results
  batchRead @2;     # digests (each <= 1 MiB) -> response.blobs + results
  putLarge @3;      # digest + chunks: assemble a large blob from stored chunks
  getManifest @4;   # digest -> response.digests (chunk list of a large blob)
  getTree @5;       # digest (root) -> response.directories (root first)
  getRef @6;        # name -> response.refs[0]
  putRef @7;        # name + ref
  deleteRef @8;     # name
  listRefs @9;      # name is the prefix -> response.refs
  stats @10;        # -> response.stats
  gc @11;           # quota (hasQuota) -> response.gc
  verify @12;       # -> response.verify
  signers @13;      # -> response.signers (the workers whose artifact refs to trust)
  # Path operations: only the per-user cache service serves them, on its
  # unix socket (docs/cas.md "Several commands on one cache"); the server
  # reads or writes these paths itself, as the user that runs every client.
  captureTree @14;  # name = absolute directory -> response.digests[0] (its root)
  stageTree @15;    # digest = root, name = absolute empty/absent dir, hardlink
  forgetFiles @16;  # digests: drop their hard-link cache copies
}

struct Request {
  version @0 :UInt32;       # kCasProtocolVersion; mismatch -> error reply
  requestId @1 :UInt64;     # echoed in the response
  op @2 :Op;
  digests @3 :List(Digest);
  blobs @4 :List(Blob);
  name @5 :Text;
  ref @6 :Ref;
  digest @7 :Digest;
  quota @8 :UInt64;
  hasQuota @9 :Bool;
  hardlink @10 :Bool;       # stageTree: hard-link read-only files (else copies)
}

struct Result {
  code @0 :UInt16;          # crossfarm::StatusCode
  message @1 :Text;
}

struct Stats {
  blobCount @0 :UInt64;
  blobBytes @1 :UInt64;
  refCount @2 :UInt64;
  quotaBytes @3 :UInt64;
}

struct GcReport {
  refsRemoved @0 :UInt64;
  blobsRemoved @1 :UInt64;
  bytesRemoved @2 :UInt64;
  blobsKeptForGrace @3 :UInt64;
}

struct VerifyReport {
  blobsChecked @0 :UInt64;
  corruptRemoved @1 :UInt64;
  cacheFilesRemoved @2 :UInt64;
  tablesRemoved @3 :UInt64;
  damagedRefs @4 :List(Text);
}

struct Response {
  version @0 :UInt32;
  requestId @1 :UInt64;
  status @2 :Result;                 # overall status of the request
  digests @3 :List(Digest);
  blobs @4 :List(Blob);
  results @5 :List(Result);          # per-item status for batches
  directories @6 :List(Directory);
  refs @7 :List(NamedRef);
  stats @8 :Stats;
  gc @9 :GcReport;
  verify @10 :VerifyReport;
  signers @11 :List(Signer);
}
