#include "domain/ice_servers.hpp"

#include <charconv>

#include "auth/turn_credentials.hpp"
#include "common/json_text.hpp"

namespace sig::domain {

namespace {

bool host_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
         ch == '.';
}

// host[:port], host a name, an IPv4 literal or a bracketed IPv6 literal.
std::optional<std::string> check_host_port(std::string_view s) {
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close < 3) return "an IPv6 host must be [address]";
    for (const char ch : s.substr(1, close - 1)) {
      const bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
                      ch == ':' || ch == '.';
      if (!ok) return "not an IPv6 literal between the brackets";
    }
    const auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "unexpected text after the IPv6 host";
      port = rest.substr(1);
      if (port.empty()) return "empty port";
    }
  } else {
    const auto colon = s.find(':');
    const auto host = s.substr(0, colon);
    if (host.empty()) return "no host";
    if (host.size() > 253) return "host longer than 253 characters";
    for (const char ch : host) {
      if (!host_char(ch)) return "the host has a character other than letters, digits, '-' and '.'";
    }
    if (colon != std::string_view::npos) {
      port = s.substr(colon + 1);
      if (port.empty()) return "empty port";
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return "the port must be a number from 1 to 65535";
  }
  return std::nullopt;
}

}  // namespace

Millis IceSettings::refresh_after() const noexcept {
  if (turn_uris.empty()) return Millis{0};
  return turn_ttl * 4 / 5;
}

std::optional<std::string> check_ice_uri(std::string_view uri, bool turn) {
  if (uri.size() > 512) return "longer than 512 characters";
  const std::string_view schemes[2] = {turn ? "turns:" : "stuns:", turn ? "turn:" : "stun:"};
  std::string_view rest;
  for (const auto scheme : schemes) {
    if (uri.substr(0, scheme.size()) == scheme) {
      rest = uri.substr(scheme.size());
      break;
    }
  }
  if (rest.data() == nullptr) {
    return turn ? "must start with turn: or turns: (e.g. turn:turn.example.org:3478?transport=udp)"
                : "must start with stun: or stuns: (e.g. stun:stun.example.org:3478)";
  }
  if (rest.substr(0, 2) == "//") return "no '//' after the scheme (turn:host:port, not turn://host:port)";
  const auto query = rest.find('?');
  if (query != std::string_view::npos) {
    if (!turn) return "a stun: URI has no query";
    const auto q = rest.substr(query + 1);
    if (q != "transport=udp" && q != "transport=tcp")
      return "the only query is ?transport=udp or ?transport=tcp";
  }
  if (auto why = check_host_port(rest.substr(0, query))) return why;
  return std::nullopt;
}

std::string ice_servers_json(const IceSettings& settings, std::string_view user_id, WallTime now) {
  if (settings.empty()) return {};
  std::string out = "[";
  const auto append_urls = [&out](const std::vector<std::string>& uris) {
    out += R"({"urls":[)";
    for (std::size_t i = 0; i < uris.size(); ++i) {
      if (i != 0) out.push_back(',');
      append_json_string(out, uris[i]);
    }
    out.push_back(']');
  };
  if (!settings.stun_uris.empty()) {
    append_urls(settings.stun_uris);
    out.push_back('}');
  }
  if (!settings.turn_uris.empty()) {
    const auto expiry =
        std::chrono::duration_cast<std::chrono::seconds>((now + settings.turn_ttl).time_since_epoch());
    const auto c = auth::turn_credential(settings.turn_secret, expiry.count(), user_id);
    if (!settings.stun_uris.empty()) out.push_back(',');
    append_urls(settings.turn_uris);
    out += R"(,"username":)";
    append_json_string(out, c.username);
    out += R"(,"credential":)";
    append_json_string(out, c.credential);
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

}  // namespace sig::domain
