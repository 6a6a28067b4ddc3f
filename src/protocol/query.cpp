#include "protocol/query.hpp"

#include "common/utf8.hpp"

namespace sig::protocol {

namespace {
bool utf8_part(std::string_view raw) {
  const auto decoded = percent_decode(raw);
  return utf8::valid(decoded ? std::string_view(*decoded) : raw);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Target split_target(std::string_view target) {
  Target t;
  const auto q = target.find('?');
  const auto raw_path = target.substr(0, q);
  t.path = percent_decode(raw_path).value_or(std::string(raw_path));
  if (q != std::string_view::npos) t.query = std::string(target.substr(q + 1));
  return t;
}

std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    const auto key = pair.substr(0, eq);
    if (key == name) {
      const auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      return percent_decode(value);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool utf8_target(std::string_view target) {
  const auto q = target.find('?');
  if (!utf8_part(target.substr(0, q))) return false;
  if (q == std::string_view::npos) return true;
  auto query = target.substr(q + 1);
  // Part by part: a bad escape in one parameter must not hide invalid bytes in another. The
  // separators are ASCII, so no multi-byte sequence can straddle them.
  while (true) {
    const auto amp = query.find_first_of("&=");
    if (!utf8_part(query.substr(0, amp))) return false;
    if (amp == std::string_view::npos) return true;
    query.remove_prefix(amp + 1);
  }
}

}  // namespace sig::protocol
