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
#include <string>
#include <system_error>

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

  boost::asio::io_context io_;
  std::unique_ptr<RedisServer> server_;
  std::shared_ptr<redis::RedisClient> client_;
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
