#pragma once
// The target of the upgrade request: /ws/signaling?token=...&sessionId=...
#include <optional>
#include <string>
#include <string_view>

namespace sig::protocol {

struct Target {
  std::string path;   // percent-decoded path
  std::string query;  // raw query, without '?'
};

Target split_target(std::string_view target);

// Percent-decodes (and turns '+' into a space); nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view in);

// The decoded value of the first `name=` parameter of a raw query; nullopt when absent.
// A parameter with a bad escape counts as absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// True when the path and every parameter name and value of the target are valid UTF-8 once
// percent-decoded (a part with a bad escape is judged on its raw bytes). Checked at the boundary,
// before any of it is used, logged or written into JSON.
bool utf8_target(std::string_view target);

}  // namespace sig::protocol
