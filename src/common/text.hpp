#pragma once
// Small helpers on header text (HTTP header values: X-Forwarded-For, Forwarded, Cache-Control).
#include <string_view>

namespace sig {

// Without the optional whitespace (spaces and tabs, RFC 9110 OWS) around a header element.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace sig
