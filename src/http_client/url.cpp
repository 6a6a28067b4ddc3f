#include "http_client/url.hpp"

#include <algorithm>
#include <cctype>

namespace sig::http_client {
namespace {

std::optional<Url> fail(std::string* why, const char* reason) {
  if (why != nullptr) *why = reason;
  return std::nullopt;
}

bool lower_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// Bytes a request line or Host header must never carry (request splitting).
bool has_forbidden_byte(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

}  // namespace

std::string Url::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (https ? "443" : "80")) out += ":" + port;
  return out;
}

std::optional<Url> parse_url(std::string_view text, std::string* why) {
  Url url;
  if (lower_prefix(text, "https://")) {
    url.https = true;
    text.remove_prefix(8);
  } else if (lower_prefix(text, "http://")) {
    text.remove_prefix(7);
  } else {
    return fail(why, "the URL must start with http:// or https://");
  }
  if (has_forbidden_byte(text)) return fail(why, "the URL holds a space or a control character");
  if (text.find('#') != std::string_view::npos) return fail(why, "the URL has a fragment");
  const auto slash = text.find_first_of("/?");
  std::string_view authority = text.substr(0, slash);
  const std::string_view rest = slash == std::string_view::npos ? std::string_view{} : text.substr(slash);
  if (authority.find('@') != std::string_view::npos) return fail(why, "the URL has user information");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(why, "the URL's IPv6 address has no ']'");
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(why, "unexpected text after the URL's IPv6 address");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return fail(why, "the URL has no host");
  if (url.host.find_first_of("[]/:") != std::string::npos && authority.front() != '[') {
    return fail(why, "the URL's host is not valid");
  }
  if (port.empty()) {
    url.port = url.https ? "443" : "80";
  } else {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return fail(why, "the URL's port is not a number");
    }
    const unsigned long n = std::stoul(std::string(port));
    if (n == 0 || n > 65535) return fail(why, "the URL's port is out of range");
    url.port = std::to_string(n);
  }
  url.target = rest.empty() ? "/" : std::string(rest);
  if (url.target.front() == '?') url.target.insert(0, "/");
  return url;
}

}  // namespace sig::http_client
