#pragma once
#include <chrono>
#include <optional>
#include <string_view>

namespace sig {

// Parses "500ms", "15s", "2m", "1h", "1.5s" or a bare number of seconds ("30").
// Returns nullopt for anything else, negative values included.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace sig
