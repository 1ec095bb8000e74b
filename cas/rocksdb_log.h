// RocksDB's info log, routed to spdlog instead of a LOG file in the database
// directory.
//
// Why: on a full file system RocksDB's file logger fails one append and then
// aborts the process on the next one (Debian's librocksdb keeps assertions:
// `sync_without_flush_called_` in WritableFileWriter), so a nearly full disk
// killed `crossfarm build`, `cas stats` and the scheduler instead of giving an
// error. A logger that writes nothing to that file system cannot fail there.
// Warnings and errors still reach the daemon's log; RocksDB's chatty info
// lines (compaction stats) are dropped.
#pragma once

#include <memory>
#include <string>

namespace rocksdb {
class Logger;
}

namespace crossfarm::cas {

// `tag` names the database in the log lines ("job store", "cas store").
std::shared_ptr<rocksdb::Logger> SpdlogRocksLogger(std::string tag);

}  // namespace crossfarm::cas
