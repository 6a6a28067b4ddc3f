// The pure part of Redis Cluster routing: key slots, redirections, slot maps from CLUSTER SHARDS
// and CLUSTER SLOTS replies (as RESP bytes, as they come from the network), key positions.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "redis/cluster_map.hpp"

namespace sig::redis::cluster {
namespace {

TEST(RedisClusterMapTest, Crc16AndKeySlotsAsTheClusterSpec) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the spec's check value
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(key_slot("foo{}{bar}"), crc16("foo{}{bar}") % 16384);  // empty tag: the whole key
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));          // up to the first '}'
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
  EXPECT_EQ(key_slot("session:ws:{s1}"), key_slot("signaling:session:{s1}"));
}

TEST(RedisClusterMapTest, RedirectionsParseAndMalformedOnesAreRefused) {
  const auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirect::Kind::moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 6381}));
  const auto ask = parse_redirect("ASK 12 [::1]:7000");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirect::Kind::ask);
  EXPECT_EQ(ask->node, (NodeAddress{"::1", 7000}));
  const auto unknown_host = parse_redirect("MOVED 1 :7001");  // the answering node's host
  ASSERT_TRUE(unknown_host);
  EXPECT_TRUE(unknown_host->node.host.empty());
  for (const std::string_view bad : {"MOVED", "MOVED 16384 h:1", "MOVED 1 h", "MOVED 1 h:0",
                                     "MOVED 1 h:70000", "ASK x h:1", "ERR MOVED 1 h:1", "MOVED -1 h:1"}) {
    EXPECT_FALSE(parse_redirect(bad)) << bad;
  }
  EXPECT_TRUE(is_transient_cluster_error("TRYAGAIN Multiple keys request during rehashing of slot"));
  EXPECT_TRUE(is_transient_cluster_error("CLUSTERDOWN The cluster is down"));
  EXPECT_FALSE(is_transient_cluster_error("ERR wrong number of arguments"));
}

constexpr std::string_view kShards =
    "*2\r\n"
    "*4\r\n$5\r\nslots\r\n*4\r\n:0\r\n:100\r\n:200\r\n:300\r\n$5\r\nnodes\r\n*2\r\n"
    "*10\r\n$4\r\nport\r\n:7001\r\n$2\r\nip\r\n$8\r\n10.0.0.1\r\n$8\r\nendpoint\r\n$8\r\n10.0.0.1\r\n"
    "$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n"
    "*10\r\n$4\r\nport\r\n:7004\r\n$2\r\nip\r\n$8\r\n10.0.0.4\r\n$8\r\nendpoint\r\n$8\r\n10.0.0.4\r\n"
    "$4\r\nrole\r\n$7\r\nreplica\r\n$6\r\nhealth\r\n$6\r\nonline\r\n"
    "*4\r\n$5\r\nslots\r\n*2\r\n:101\r\n:199\r\n$5\r\nnodes\r\n*1\r\n"
    "*12\r\n$4\r\nport\r\n:7002\r\n$8\r\ntls-port\r\n:8002\r\n$2\r\nip\r\n$8\r\n10.0.0.2\r\n$"
    "8\r\nendpoint\r\n$1\r\n?\r\n"
    "$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

TEST(RedisClusterMapTest, ClusterShardsGivesThePrimaryOfEachRange) {
  const auto reply = decode_resp(kShards);
  ASSERT_TRUE(reply);
  std::string why;
  const auto map = parse_cluster_shards(*reply, false, "seed", &why);
  ASSERT_TRUE(map) << why;
  EXPECT_EQ(map->primaries().size(), 2U);
  EXPECT_EQ(*map->node_for(0), (NodeAddress{"10.0.0.1", 7001}));
  EXPECT_EQ(*map->node_for(250), (NodeAddress{"10.0.0.1", 7001}));
  EXPECT_EQ(*map->node_for(150), (NodeAddress{"10.0.0.2", 7002}));  // endpoint "?": the ip
  EXPECT_EQ(map->node_for(301), nullptr);
  EXPECT_EQ(map->covered(), 301U);
  const auto tls = parse_cluster_shards(*reply, true, "seed", &why);
  ASSERT_TRUE(tls);
  EXPECT_EQ(*tls->node_for(150), (NodeAddress{"10.0.0.2", 8002}));  // its tls-port
  EXPECT_EQ(*tls->node_for(0), (NodeAddress{"10.0.0.1", 7001}));    // no tls-port announced
}

TEST(RedisClusterMapTest, ClusterSlotsFallback) {
  const auto reply = decode_resp(
      "*2\r\n*3\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:30001\r\n$3\r\nabc\r\n"
      "*4\r\n:5461\r\n:16383\r\n*2\r\n$0\r\n\r\n:30002\r\n*2\r\n$9\r\n127.0.0.1\r\n:30005\r\n");
  ASSERT_TRUE(reply);
  const auto map = parse_cluster_slots(*reply, "seed");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->covered(), kSlots);
  EXPECT_EQ(*map->node_for(5460), (NodeAddress{"127.0.0.1", 30001}));
  EXPECT_EQ(*map->node_for(5461), (NodeAddress{"seed", 30002}));  // empty host: the seed's
}

TEST(RedisClusterMapTest, MalformedRepliesAreErrorsNotCrashes) {
  for (const std::string_view bytes :
       {std::string_view("+OK\r\n"), std::string_view("*1\r\n:1\r\n"),
        std::string_view("*1\r\n*2\r\n$5\r\nslots\r\n:1\r\n"),
        std::string_view("*1\r\n*4\r\n$5\r\nslots\r\n*1\r\n:0\r\n$5\r\nnodes\r\n*0\r\n"),
        std::string_view("*1\r\n*3\r\n:9\r\n:99999\r\n*2\r\n$1\r\nh\r\n:1\r\n"),
        std::string_view("*1\r\n*3\r\n:9\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n")}) {
    const auto reply = decode_resp(bytes);
    ASSERT_TRUE(reply) << bytes;
    std::string why;
    const auto shards = parse_cluster_shards(*reply, false, "h", &why);
    const auto slots = parse_cluster_slots(*reply, "h", &why);
    EXPECT_FALSE(shards && slots && slots->covered() > 0) << bytes;
  }
  EXPECT_FALSE(decode_resp("*2147483647\r\n"));  // no giant allocation from an announced length
}

TEST(RedisClusterMapTest, TheNodeCountIsBounded) {
  SlotMap map;
  for (std::size_t i = 0; i < kMaxNodes; ++i)
    ASSERT_TRUE(
        map.assign(static_cast<std::uint16_t>(i), NodeAddress{"h", static_cast<std::uint16_t>(i + 1)}));
  EXPECT_FALSE(map.assign(5000, NodeAddress{"h", 60000}));
  EXPECT_TRUE(map.assign(5000, NodeAddress{"h", 1}));  // a known node is fine
  EXPECT_EQ(map.primaries().size(), kMaxNodes);
}

TEST(RedisClusterMapTest, KeyIndexRoutesKeyCommandsScriptsAndPublish) {
  auto idx = [](std::initializer_list<std::string_view> a) {
    return key_index(std::span<const std::string_view>(a.begin(), a.size()));
  };
  EXPECT_EQ(idx({"GET", "k"}), 1U);
  EXPECT_EQ(idx({"spublish", "ch", "m"}), 1U);
  EXPECT_EQ(idx({"EVALSHA", "sha", "2", "k1", "k2", "a"}), 3U);
  EXPECT_EQ(idx({"EVALSHA", "sha", "0", "a"}), std::nullopt);
  EXPECT_EQ(idx({"PING"}), std::nullopt);
  EXPECT_EQ(idx({"SCRIPT", "LOAD", "return 1"}), std::nullopt);
  EXPECT_EQ(idx({"CLUSTER", "SHARDS"}), std::nullopt);
}

}  // namespace
}  // namespace sig::redis::cluster
