#pragma once
// Who the client is when a reverse proxy connects for it. Pure: no I/O, unit-tested and fuzzed.
// Only a peer inside a --trusted-proxy CIDR may name the client (X-Forwarded-For or Forwarded:
// for=); the client is then the rightmost hop that is not itself a trusted proxy, since a client
// can write any hop it likes to the left of what its own proxy appends.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace sig::net {

struct Cidr {
  boost::asio::ip::address network;  // with the host bits cleared
  unsigned prefix = 0;               // bits
  bool contains(const boost::asio::ip::address& a) const noexcept;
};

// "10.0.0.0/8", "fd00::/8", "127.0.0.1" (one host). nullopt on anything else.
std::optional<Cidr> parse_cidr(std::string_view text);

class TrustedProxies {
 public:
  void add(const Cidr& cidr) { list_.push_back(cidr); }
  bool empty() const noexcept { return list_.empty(); }
  bool contains(const boost::asio::ip::address& a) const noexcept;

 private:
  std::vector<Cidr> list_;
};

// One address as it appears in a forwarding header: "1.2.3.4", "1.2.3.4:5678", "::1",
// "[::1]:5678", optionally quoted. nullopt for "unknown", obfuscated names and garbage.
std::optional<boost::asio::ip::address> parse_forwarded_node(std::string_view text);

// The client behind a trusted peer. `x_forwarded_for`: the X-Forwarded-For values (several header
// lines joined by commas); `forwarded`: the Forwarded values (RFC 7239), used when there is no
// X-Forwarded-For. nullopt when the headers name no usable client (the peer is then the client).
std::optional<boost::asio::ip::address> forwarded_client(std::string_view x_forwarded_for,
                                                         std::string_view forwarded,
                                                         const TrustedProxies& trusted);

}  // namespace sig::net
