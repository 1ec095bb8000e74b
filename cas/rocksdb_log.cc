#include "cas/rocksdb_log.h"

#include <rocksdb/env.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>

namespace crossfarm::cas {
namespace {

class SpdlogLogger : public rocksdb::Logger {
 public:
  explicit SpdlogLogger(std::string tag)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), tag_(std::move(tag)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL)
      spdlog::error("rocksdb: {}: {}", tag_, line);
    else
      spdlog::warn("rocksdb: {}: {}", tag_, line);
  }

 private:
  std::string tag_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> SpdlogRocksLogger(std::string tag) {
  return std::make_shared<SpdlogLogger>(std::move(tag));
}

}  // namespace crossfarm::cas
