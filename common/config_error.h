// The one exception every config loader throws: a message naming the file, the line and the key.
#pragma once

#include <stdexcept>

namespace quorate {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace quorate
