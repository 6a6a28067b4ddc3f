#include "redis/url.hpp"

#include <charconv>
#include <limits>

namespace sig::redis {
namespace {

std::optional<RedisUrl> fail(std::string* error, std::string_view why) {
  if (error != nullptr) *error = std::string(why);
  return std::nullopt;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4U]);
      out.push_back(kHex[u & 0x0FU]);
    }
  }
  return out;
}

}  // namespace

std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string* error) {
  RedisUrl url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return fail(error, "missing scheme (expected redis://)");
  const std::string_view scheme = text.substr(0, scheme_end);
  if (iequals(scheme, "redis")) {
    url.tls = false;
  } else if (iequals(scheme, "rediss")) {
    url.tls = true;
  } else {
    return fail(error, "unsupported scheme (expected redis:// or rediss://)");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail(error, "query strings and fragments are not supported");
  }

  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  // userinfo: everything up to the last '@' (a raw '@' in a password is tolerated).
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      if (!percent_decode(userinfo, url.password)) return fail(error, "bad percent-escape in the password");
    } else {
      if (!percent_decode(userinfo.substr(0, colon), url.username)) {
        return fail(error, "bad percent-escape in the user name");
      }
      if (!percent_decode(userinfo.substr(colon + 1), url.password)) {
        return fail(error, "bad percent-escape in the password");
      }
    }
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(error, "unterminated IPv6 literal");
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(error, "unexpected text after the IPv6 literal");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      if (authority.find(':', colon + 1) != std::string_view::npos) {
        return fail(error, "an IPv6 address must be written in brackets");
      }
      port_text = authority.substr(colon + 1);
      has_port = true;
      authority = authority.substr(0, colon);
    }
    url.host = std::string(authority);
  }
  if (url.host.empty()) return fail(error, "missing host");
  // Brackets only delimit an IPv6 literal: inside a host they would make to_string() write a URL
  // that does not parse back (found by fuzz_redis_url: "redis://[[x]").
  if (url.host.find_first_of(" \t\r\n@/[]") != std::string::npos) return fail(error, "bad character in host");

  if (has_port) {
    std::uint32_t port = 0;
    if (!parse_number(port_text, port) || port == 0 || port > std::numeric_limits<std::uint16_t>::max()) {
      return fail(error, "bad port (expected 1..65535)");
    }
    url.port = static_cast<std::uint16_t>(port);
  }

  if (!path.empty()) {
    std::uint32_t db = 0;
    if (!parse_number(path, db) ||
        db > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max())) {
      return fail(error, "bad database index (expected /N with N a non-negative integer)");
    }
    url.db = db;
  }
  return url;
}

std::string RedisUrl::to_string(bool with_password) const {
  std::string out = tls ? "rediss://" : "redis://";
  if (!username.empty() || !password.empty()) {
    out += percent_encode(username);
    out += ':';
    if (!password.empty()) out += with_password ? percent_encode(password) : std::string("***");
    out += '@';
  }
  if (host.find(':') != std::string::npos) {
    out += '[' + host + ']';
  } else {
    out += host;
  }
  out += ':' + std::to_string(port) + '/' + std::to_string(db);
  return out;
}

}  // namespace sig::redis
