#include "worker/http_fetch.h"

#include <curl/curl.h>

#include <cstdio>
#include <memory>
#include <mutex>

#include "common/digest.h"

namespace crossfarm::worker {
namespace {

struct Sink {
  FILE* file;
  Sha256 sha;
  uint64_t size = 0;
  bool write_failed = false;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (std::fwrite(data, 1, n, sink->file) != n) {
    sink->write_failed = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  sink->sha.Update(std::string_view(data, n));
  sink->size += n;
  return n;
}

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

Status CheckOutcome(const std::string& url, CURLcode code, long http_status, const Sink& sink,
                    const char* errbuf) {
  if (sink.write_failed) return Status::IOError("writing the download of " + url + " failed");
  if (code == CURLE_FILE_COULDNT_READ_FILE) return Status::NotFound("no such file: " + url);
  if (code != CURLE_OK) {
    return Status::Unavailable("download " + url + " failed: " +
                               (errbuf[0] != '\0' ? errbuf : curl_easy_strerror(code)));
  }
  if (http_status == 404 || http_status == 410) {
    return Status::NotFound("download " + url + " failed: HTTP " + std::to_string(http_status));
  }
  if (http_status >= 400) {
    return Status::Unavailable("download " + url + " failed: HTTP " +
                               std::to_string(http_status));
  }
  return Status::Ok();
}

}  // namespace

Result<DownloadResult> HttpDownload(const std::string& url, const std::string& dest_path) {
  GlobalInitOnce();
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(dest_path.c_str(), "wb"), &std::fclose);
  if (!file) return Err(Status::FromErrno("create " + dest_path, errno));
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return Err(Status::Internal("curl_easy_init failed"));
  Sink sink{file.get()};
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // Abort transfers that stall (< 1 byte/s for 60 s) instead of hanging a build.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "crossfarm/0.1");
  const CURLcode code = curl_easy_perform(c);
  long http_status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_status);
  if (url.starts_with("file:")) http_status = 0;
  CF_TRY(CheckOutcome(url, code, http_status, sink, errbuf));
  if (std::fflush(file.get()) != 0) return Err(Status::FromErrno("write " + dest_path, errno));
  return DownloadResult{sink.sha.FinishHex(), sink.size};
}

}  // namespace crossfarm::worker
