#pragma once
// The URLs the outbound client accepts: http[s]://host[:port][/path][?query], no user info, no
// fragment. Checked at start-up by the options that take one (--webhook-url, --jwt-jwks-url), so
// that a typo is an error there rather than a failed delivery later.
#include <optional>
#include <string>
#include <string_view>

namespace sig::http_client {

struct Url {
  bool https = false;
  std::string host;    // a name, an IPv4 address, or an IPv6 address without its brackets
  std::string port;    // always set: the scheme's default when absent
  std::string target;  // path and query, at least "/"
  // What the Host header says: host[:port] (brackets around IPv6, the port only when not default).
  std::string host_header() const;
};

// nullopt and a reason when text is not such a URL.
std::optional<Url> parse_url(std::string_view text, std::string* why = nullptr);

}  // namespace sig::http_client
