// Formats arbitrary bytes (from clients or Redis, as message, key and value) into a log line, in
// both formats. Each must be one line with no raw control byte; the JSON line must parse (so it
// is valid UTF-8) and carry the value exactly when the value was valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace log = sig::log;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view message = input.substr(0, size / 3);
  const std::string_view key = input.substr(size / 3, size / 6);
  const std::string_view value = input.substr(size / 3 + size / 6);
  for (const bool json : {true, false}) {
    const auto line = log::format_line(log::Level::warn, message, {{key, value}, {"n", 1}}, json);
    for (const char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) __builtin_trap();
    }
    if (json) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) __builtin_trap();
      // Valid UTF-8 comes out exactly as it went in.
      bool valid = true;
      try {
        (void)nlohmann::json(std::string(value)).dump();
      } catch (const nlohmann::json::exception&) {
        valid = false;
      }
      if (valid && key != "time" && key != "level" && key != "msg" && key != "n" &&
          j.count(std::string(key)) == 1 && j[std::string(key)] != std::string(value)) {
        // A duplicate key keeps the last one (the value): still equal when the key is unique.
        __builtin_trap();
      }
    }
  }
  return 0;
}
