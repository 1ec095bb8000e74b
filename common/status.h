// Errors as values (leveldb's Status, ccache's tl::expected + TRY).
//
// Recoverable errors travel as Status / Result<T> and are propagated with CF_TRY
// and CF_ASSIGN_OR_RETURN. Only main() turns them into exit codes. Messages meant
// for users carry provenance ("file:line:col: ...") and say what to do.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace crossfarm {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kInvalidArgument,     // bad user input: YAML, options, CLI
  kCorruption,          // stored data fails verification
  kUnavailable,         // peer/daemon unreachable, retry may help
  kResourceExhausted,   // disk full, quota, oversized message
  kAlreadyExists,
  kFailedPrecondition,  // environment not ready (binfmt missing, no worker)
  kPermissionDenied,    // unauthenticated / not allowed
  kCancelled,
  kIOError,
  kBuildFailed,         // a sandboxed command exited non-zero
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status AlreadyExists(std::string m) {
    return {StatusCode::kAlreadyExists, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  // errno-based I/O error: "<context>: <strerror(err)>".
  static Status FromErrno(std::string_view context, int err);
  static Status BuildFailed(std::string m) { return {StatusCode::kBuildFailed, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsCorruption() const { return code_ == StatusCode::kCorruption; }

  // "NotFound: message" (or "OK").
  std::string ToString() const;
  // Same code, message prefixed with "context: ".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Status>;

// Lets `return Status::NotFound(...)` work in a function returning Result<T>.
inline std::unexpected<Status> Err(Status s) { return std::unexpected<Status>(std::move(s)); }

namespace detail {
inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.has_value() ? Status::Ok() : r.error();
}
// Result<T> -> return type conversion for CF_TRY: works for Status and Result<U>.
struct ErrorReturn {
  Status status;
  operator Status() const { return status; }  // NOLINT: implicit by design
  template <typename U>
  operator Result<U>() const {  // NOLINT
    return std::unexpected<Status>(status);
  }
};
}  // namespace detail

}  // namespace crossfarm

#define CF_CONCAT_INNER(a, b) a##b
#define CF_CONCAT(a, b) CF_CONCAT_INNER(a, b)

// Returns early with the error of a Status or Result expression.
#define CF_TRY(expr)                                                        \
  do {                                                                      \
    auto&& cf_try_value_ = (expr);                                          \
    if (!::crossfarm::detail::ToStatus(cf_try_value_).ok())                 \
      return ::crossfarm::detail::ErrorReturn{                              \
          ::crossfarm::detail::ToStatus(cf_try_value_)};                    \
  } while (0)

// CF_ASSIGN_OR_RETURN(auto x, MakeX()); declares/assigns on success.
#define CF_ASSIGN_OR_RETURN(lhs, expr) \
  CF_ASSIGN_OR_RETURN_IMPL(CF_CONCAT(cf_result_, __LINE__), lhs, expr)
#define CF_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                            \
  auto tmp = (expr);                                                        \
  if (!tmp.has_value())                                                     \
    return ::crossfarm::detail::ErrorReturn{std::move(tmp).error()};        \
  lhs = std::move(tmp).value()
