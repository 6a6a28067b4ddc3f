#include "net/client_address.hpp"

#include <charconv>
#include <string>

#include "common/text.hpp"

namespace sig::net {

namespace {

using boost::asio::ip::address;

std::optional<address> parse_address(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

bool is_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  return ec == std::errc() && end == p.data() + p.size() && v <= 65535;
}

// Splits `list` at commas and visits the items from the right; stops when visit returns a value.
template <class Visit>
std::optional<address> from_the_right(std::string_view list, Visit visit) {
  while (true) {
    const auto comma = list.rfind(',');
    const auto item = trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
    if (auto r = visit(item)) return *r;
    if (comma == std::string_view::npos) return std::nullopt;
    list = list.substr(0, comma);
  }
}

// The for= parameter of one Forwarded element ("for=1.2.3.4;proto=https").
std::string_view for_parameter(std::string_view element) {
  while (!element.empty()) {
    const auto semi = element.find(';');
    const auto pair = trim_ows(element.substr(0, semi));
    if (pair.size() > 4 && (pair[0] == 'f' || pair[0] == 'F') && (pair[1] == 'o' || pair[1] == 'O') &&
        (pair[2] == 'r' || pair[2] == 'R') && pair[3] == '=')
      return pair.substr(4);
    if (semi == std::string_view::npos) break;
    element.remove_prefix(semi + 1);
  }
  return {};
}

}  // namespace

bool Cidr::contains(const address& a) const noexcept {
  address x = a;
  if (x.is_v6() && x.to_v6().is_v4_mapped())
    x = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, x.to_v6());
  if (x.is_v4() != network.is_v4()) return false;
  if (x.is_v4()) {
    const auto mask = prefix == 0 ? 0U : ~0U << (32U - prefix);
    return (x.to_v4().to_uint() & mask) == network.to_v4().to_uint();
  }
  const auto xb = x.to_v6().to_bytes();
  const auto nb = network.to_v6().to_bytes();
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bits = prefix > i * 8 ? std::min(8U, prefix - i * 8) : 0U;
    const auto mask = static_cast<unsigned char>(bits == 0 ? 0U : (0xFFU << (8U - bits)) & 0xFFU);
    if ((xb[i] & mask) != nb[i]) return false;
  }
  return true;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  text = trim_ows(text);
  const auto slash = text.find('/');
  const auto a = parse_address(text.substr(0, slash));
  if (!a) return std::nullopt;
  const unsigned max = a->is_v4() ? 32U : 128U;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix > max) return std::nullopt;
  }
  Cidr c;
  c.prefix = prefix;
  if (a->is_v4()) {
    const auto mask = prefix == 0 ? 0U : ~0U << (32U - prefix);
    c.network = boost::asio::ip::address_v4(a->to_v4().to_uint() & mask);
  } else {
    auto bytes = a->to_v6().to_bytes();
    for (unsigned i = 0; i < 16; ++i) {
      const unsigned bits = prefix > i * 8 ? std::min(8U, prefix - i * 8) : 0U;
      bytes[i] &= static_cast<unsigned char>(bits == 0 ? 0U : (0xFFU << (8U - bits)) & 0xFFU);
    }
    c.network = boost::asio::ip::address_v6(bytes);
  }
  return c;
}

bool TrustedProxies::contains(const address& a) const noexcept {
  for (const auto& c : list_)
    if (c.contains(a)) return true;
  return false;
}

std::optional<address> parse_forwarded_node(std::string_view text) {
  text = trim_ows(text);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {  // [v6] or [v6]:port
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return std::nullopt;
    auto a = parse_address(text.substr(1, close - 1));
    if (!a || !a->is_v6()) return std::nullopt;
    return a;
  }
  const auto colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    // v4:port
    if (!is_port(text.substr(colon + 1))) return std::nullopt;
    auto a = parse_address(text.substr(0, colon));
    if (!a || !a->is_v4()) return std::nullopt;
    return a;
  }
  return parse_address(text);  // v4, or a bare v6
}

std::optional<address> forwarded_client(std::string_view x_forwarded_for, std::string_view forwarded,
                                        const TrustedProxies& trusted) {
  // The rightmost hop that is not one of our proxies; a hop that cannot be read ends the walk
  // (what is to its left is no more trustworthy than it is).
  bool stop = false;
  auto pick = [&](std::optional<address> hop) -> std::optional<std::optional<address>> {
    if (!hop) {
      stop = true;
      return std::optional<address>{};
    }
    if (trusted.contains(*hop)) return std::nullopt;  // one of ours: look further left
    return hop;
  };
  std::optional<address> found;
  if (!trim_ows(x_forwarded_for).empty()) {
    from_the_right(x_forwarded_for, [&](std::string_view item) -> std::optional<address> {
      if (auto r = pick(parse_forwarded_node(item))) {
        found = *r;
        return address{};
      }
      return std::nullopt;
    });
    return stop ? std::nullopt : found;
  }
  if (!trim_ows(forwarded).empty()) {
    from_the_right(forwarded, [&](std::string_view element) -> std::optional<address> {
      if (auto r = pick(parse_forwarded_node(for_parameter(element)))) {
        found = *r;
        return address{};
      }
      return std::nullopt;
    });
    return stop ? std::nullopt : found;
  }
  return std::nullopt;
}

}  // namespace sig::net
