#pragma once
// GoogleTest fixtures over a real redis-server (tests/support/redis_server.hpp), skipped when
// /usr/bin/redis-server is missing:
// - RedisClientTest: a server and one RedisClient to it, for the tests of the scripts and of the
//   claim (they call the client themselves);
// - RigTest: a server, a Probe and the nodes' parts (cluster_rig.hpp), for the tests of the parts
//   of a cluster::Node.
// Everything runs on the test's thread, on io_ (declared first: it outlives the handlers).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "domain/clock.hpp"
#include "redis/client.hpp"
#include "support/cluster_rig.hpp"
#include "support/redis_server.hpp"

namespace sig::test {

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no " << RedisServer::kBinary;
    server_ = std::make_unique<RedisServer>();
    redis::ClientOptions o;
    o.url = server_->url();
    client_ = redis::RedisClient::create(io_.get_executor(), o);
    std::optional<std::error_code> started;
    ASSERT_FALSE(client_->start([&](std::error_code ec) { started = ec; }));
    for (int i = 0; i < 500 && !started; ++i)
      io_.run_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(started && !*started);
  }
  void TearDown() override {
    if (client_) client_->close();
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
  }

  // Runs `start` (a command or a script, given its callback) until its reply. An error is a
  // failure, except a server's error reply where server_errors_expected_ (a script's refusal).
  redis::Reply wait(const std::function<void(redis::ReplyCallback)>& start) {
    std::optional<redis::Reply> out;
    start([&](std::error_code ec, redis::Reply r) {
      EXPECT_TRUE(!ec || (server_errors_expected_ && ec == redis::Errc::server_error)) << ec.message();
      out = std::move(r);
    });
    for (int i = 0; i < 500 && !out; ++i)
      io_.run_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(out.has_value()) << "no reply";
    return out.value_or(redis::Reply{});
  }
  redis::Reply cmd(std::vector<std::string> owned) {
    return wait([&](redis::ReplyCallback cb) {
      std::vector<std::string_view> v(owned.begin(), owned.end());
      client_->command(std::span<const std::string_view>(v), std::move(cb));
    });
  }
  redis::Reply eval(const redis::Script& s, std::vector<std::string> k, std::vector<std::string> a) {
    return wait([&](redis::ReplyCallback cb) {
      std::vector<std::string_view> kv(k.begin(), k.end()), av(a.begin(), a.end());
      client_->eval(s, kv, av, std::move(cb));
    });
  }

  boost::asio::io_context io_;
  std::unique_ptr<RedisServer> server_;
  std::shared_ptr<redis::RedisClient> client_;
  bool server_errors_expected_ = false;
};

class RigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no " << RedisServer::kBinary;
    server_ = std::make_unique<RedisServer>();
    probe_ = std::make_unique<Probe>(io_, server_->url());
  }
  // A node of id `id` on the server; `tune` adjusts its options first.
  std::unique_ptr<Rig> make_rig(const std::string& id,
                                const std::function<void(cluster::NodeOptions&)>& tune = {}) {
    auto o = node_options(server_->url(), id);
    if (tune) tune(o);
    return std::make_unique<Rig>(io_, clock_, o);
  }
  // Runs `f` on the rig's strand, as Node does, and waits for it.
  void on_strand(Rig& r, const std::function<void()>& f) {
    bool done = false;
    boost::asio::post(r.ctx.strand, [&] {
      f();
      done = true;
    });
    ASSERT_TRUE(run_until(io_, [&] { return done; }));
  }
  // Whether the server has a subscriber on `channel` (PUBSUB CHANNELS).
  bool has_subscriber(const std::string& channel) {
    for (const auto& c : probe_->channels()) {
      if (c == channel) return true;
    }
    return false;
  }

  boost::asio::io_context io_;
  domain::ManualClock clock_;
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<Probe> probe_;
};

}  // namespace sig::test
