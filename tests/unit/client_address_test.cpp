// The trusted-proxy parsers: CIDRs and the client named by X-Forwarded-For / Forwarded.
#include <gtest/gtest.h>

#include "net/client_address.hpp"

using namespace sig::net;
using boost::asio::ip::make_address;

namespace {

TrustedProxies proxies(std::initializer_list<const char*> cidrs) {
  TrustedProxies t;
  for (const auto* c : cidrs)
    t.add(*parse_cidr(c));
  return t;
}

std::string client(std::string_view xff, std::string_view fwd, const TrustedProxies& t) {
  const auto a = forwarded_client(xff, fwd, t);
  return a ? a->to_string() : "none";
}

}  // namespace

TEST(Cidr, ParsesV4AndV6AndHosts) {
  const auto c = parse_cidr("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->network.to_string(), "10.0.0.0");
  EXPECT_EQ(c->prefix, 8U);
  EXPECT_TRUE(c->contains(make_address("10.200.0.1")));
  EXPECT_FALSE(c->contains(make_address("11.0.0.1")));
  EXPECT_TRUE(c->contains(make_address("::ffff:10.0.0.9")));  // v4-mapped is the same client
  const auto v6 = parse_cidr("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(make_address("fd12:3456::1")));
  EXPECT_FALSE(v6->contains(make_address("fe80::1")));
  EXPECT_FALSE(v6->contains(make_address("10.0.0.1")));
  const auto host = parse_cidr("127.0.0.4");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->prefix, 32U);
  EXPECT_TRUE(host->contains(make_address("127.0.0.4")));
  EXPECT_FALSE(host->contains(make_address("127.0.0.5")));
  const auto all = parse_cidr("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(make_address("1.2.3.4")));
  const auto odd = parse_cidr("2001:db8::/33");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(make_address("2001:db8:7fff::1")));
  EXPECT_FALSE(odd->contains(make_address("2001:db8:8000::1")));
}

TEST(Cidr, RefusesGarbage) {
  for (const auto* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8x",
                          "host.example/8", "10.0.0/8", "1.2.3.4/ 8"}) {
    EXPECT_FALSE(parse_cidr(bad)) << bad;
  }
}

TEST(ForwardedNode, Forms) {
  EXPECT_EQ(parse_forwarded_node("1.2.3.4")->to_string(), "1.2.3.4");
  EXPECT_EQ(parse_forwarded_node(" 1.2.3.4:5678 ")->to_string(), "1.2.3.4");
  EXPECT_EQ(parse_forwarded_node("\"[2001:db8::1]:443\"")->to_string(), "2001:db8::1");
  EXPECT_EQ(parse_forwarded_node("2001:db8::1")->to_string(), "2001:db8::1");
  EXPECT_FALSE(parse_forwarded_node("unknown"));
  EXPECT_FALSE(parse_forwarded_node("_hidden"));
  EXPECT_FALSE(parse_forwarded_node("1.2.3.4:99999"));
  EXPECT_FALSE(parse_forwarded_node("[1.2.3.4]"));
  EXPECT_FALSE(parse_forwarded_node("[::1"));
  EXPECT_FALSE(parse_forwarded_node(""));
}

TEST(ForwardedClient, RightmostUntrustedHopOfXForwardedFor) {
  const auto t = proxies({"10.0.0.0/8"});
  EXPECT_EQ(client("203.0.113.7", "", t), "203.0.113.7");
  // The client wrote a fake hop on the left; our proxy appended the real one.
  EXPECT_EQ(client("198.51.100.1, 203.0.113.7", "", t), "203.0.113.7");
  // Hops that are our own proxies are skipped.
  EXPECT_EQ(client("203.0.113.7, 10.1.1.1,10.2.2.2", "", t), "203.0.113.7");
  // Everything is ours, or nothing readable: no client named.
  EXPECT_EQ(client("10.1.1.1", "", t), "none");
  EXPECT_EQ(client("", "", t), "none");
  EXPECT_EQ(client("garbage", "", t), "none");
  EXPECT_EQ(client("203.0.113.7, garbage", "", t), "none");
}

TEST(ForwardedClient, ForwardedWhenNoXForwardedFor) {
  const auto t = proxies({"10.0.0.0/8"});
  EXPECT_EQ(client("", "for=192.0.2.60;proto=http;by=203.0.113.43", t), "192.0.2.60");
  EXPECT_EQ(client("", "for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\"", t), "2001:db8:cafe::17");
  EXPECT_EQ(client("", "For=198.51.100.17, for=10.0.0.1", t), "198.51.100.17");
  EXPECT_EQ(client("", "proto=https", t), "none");
  EXPECT_EQ(client("", "for=unknown", t), "none");
  // X-Forwarded-For wins when both are present.
  EXPECT_EQ(client("203.0.113.9", "for=192.0.2.60", t), "203.0.113.9");
}
