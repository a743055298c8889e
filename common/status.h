// Errors as values at every boundary (kernel, files, sockets, config): an errno, or none, plus what
// was being done.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace quorate {

class [[nodiscard]] Status {
 public:
  Status() = default;  // success
  static Status ok() { return {}; }
  // `err` is a positive errno (or -errno, normalised); `what` names the operation and object,
  // e.g. "add 198.18.1.10/24 on eth0".
  static Status fail(int err, std::string what) {
    return Status(err < 0 ? -err : err, std::move(what));
  }

  bool isOk() const { return err_ == 0; }
  explicit operator bool() const { return isOk(); }
  int err() const { return err_; }
  const std::string& what() const { return what_; }
  // "what: strerror(err)".
  std::string message() const;
  // The same error (its errno, or none) described by `what`: context added on the way up.
  // Rebuilding it with fail(err(), ...) would turn "no errno" into EPERM.
  Status withWhat(std::string what) const {
    Status s = *this;
    s.what_ = std::move(what);
    return s;
  }

 private:
  Status(int err, std::string what) : err_(err == 0 ? -1 : err), what_(std::move(what)) {}
  int err_ = 0;
  std::string what_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status error)
      : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor); must not be ok
  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  Status status() const { return isOk() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace quorate
