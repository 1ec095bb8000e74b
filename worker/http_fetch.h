// libcurl adapter: downloads a URL (http, https, file) into a local file while
// computing its SHA-256. The one place in crossfarm that talks to libcurl.
#pragma once

#include <string>

#include "common/status.h"

namespace crossfarm::worker {

struct DownloadResult {
  std::string sha256;  // lowercase hex of the bytes written
  uint64_t size = 0;
};

// Writes the body of `url` to `dest_path` (created or truncated). Redirects are
// followed. NotFound for HTTP 404 / missing file:// path, Unavailable for other
// HTTP or transport errors; the message names the URL. On error dest_path may hold
// partial data: callers download to a temp file and rename after verification.
Result<DownloadResult> HttpDownload(const std::string& url, const std::string& dest_path);

}  // namespace crossfarm::worker
