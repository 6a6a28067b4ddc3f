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

}  // namespace sig::protocol
