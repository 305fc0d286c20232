// Result<T, E>: a value or a typed error, for everything the wire library
// decodes from untrusted bytes (std::expected is C++23; we build as C++20).
//
// Asking a Result for the alternative it does not hold is a bug in the
// caller, so it is a VMBUS_CHECK, not an exception.
#pragma once

#include <utility>
#include <variant>

#include "vmbus/base/check.h"

namespace vmbus::wire {

template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  // Implicit on purpose: `return message;` and `return error;` read naturally.
  Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(E error) : storage_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return storage_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    VMBUS_CHECK(ok(), "Result::value() on an error");
    return std::get<0>(storage_);
  }
  T& value() & {
    VMBUS_CHECK(ok(), "Result::value() on an error");
    return std::get<0>(storage_);
  }
  T&& value() && {
    VMBUS_CHECK(ok(), "Result::value() on an error");
    return std::get<0>(std::move(storage_));
  }

  const E& error() const {
    VMBUS_CHECK(!ok(), "Result::error() on a value");
    return std::get<1>(storage_);
  }

 private:
  std::variant<T, E> storage_;
};

}  // namespace vmbus::wire
