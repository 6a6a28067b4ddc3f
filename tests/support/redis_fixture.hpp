#pragma once
// Test fixture for RedisClient / RedisSubscriber against a real redis-server
// (tests/support/redis_server.hpp): an io_context run from the test thread, helpers to connect
// and to run commands to completion, and a TearDown that checks that everything drains after
// close(). make_server() and tls_ let a derived fixture use another server (e.g. TLS).

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/log.hpp"
#include "redis/client.hpp"
#include "support/redis_server.hpp"

namespace sig::test {

struct RedisResult {
  bool done = false;
  std::error_code ec;
  redis::Reply reply;
};

class RedisFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no " << RedisServer::kBinary;
    log::init("warn", "json");  // the clients' connect/close lines would drown the test output
    server_ = make_server();
  }

  // The server every test starts with.
  virtual std::unique_ptr<RedisServer> make_server() { return std::make_unique<RedisServer>(); }

  void TearDown() override {
    for (auto& c : clients_)
      c->close();
    for (auto& s : subscribers_)
      s->close();
    clients_.clear();
    subscribers_.clear();
    // Everything must drain: no timer, wait or posted handler may stay behind after close().
    guard_.reset();
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
    EXPECT_TRUE(io_.stopped()) << "work left after close()";
  }

  redis::ClientOptions options(std::string url = {}) {
    redis::ClientOptions o;
    o.url = url.empty() ? server_->url() : std::move(url);
    o.reconnect_min = std::chrono::milliseconds(20);
    o.reconnect_max = std::chrono::milliseconds(200);
    o.connect_timeout = std::chrono::milliseconds(1000);
    o.command_timeout = std::chrono::milliseconds(2000);
    o.tls = tls_;
    return o;
  }

  template <typename Pred>
  bool run_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  void run_for(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline)
      io_.run_for(std::chrono::milliseconds(5));
  }

  std::shared_ptr<redis::RedisClient> connect(redis::ClientOptions o) {
    auto c = redis::RedisClient::create(io_.get_executor(), std::move(o));
    clients_.push_back(c);
    std::optional<std::error_code> first;
    EXPECT_FALSE(c->start([&](std::error_code ec) { first = ec; }));
    EXPECT_TRUE(run_until([&] { return first.has_value(); }));
    const auto ec = first.value_or(redis::Errc::timeout);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(c->connected());
    return c;
  }
  std::shared_ptr<redis::RedisClient> connect() { return connect(options()); }

  std::shared_ptr<redis::RedisSubscriber> subscriber(redis::ClientOptions o) {
    auto s = redis::RedisSubscriber::create(io_.get_executor(), std::move(o));
    subscribers_.push_back(s);
    std::optional<std::error_code> first;
    EXPECT_FALSE(s->start([&](std::error_code ec) { first = ec; }));
    EXPECT_TRUE(run_until([&] { return first.has_value(); }));
    const auto ec = first.value_or(redis::Errc::timeout);
    EXPECT_FALSE(ec) << ec.message();
    return s;
  }

  // Starts a client (kept for TearDown) and returns the outcome of its first attempt.
  std::error_code first_result(redis::ClientOptions o, std::shared_ptr<redis::RedisClient>* out = nullptr) {
    auto c = redis::RedisClient::create(io_.get_executor(), std::move(o));
    clients_.push_back(c);
    if (out != nullptr) *out = c;
    std::optional<std::error_code> first;
    if (auto ec = c->start([&](std::error_code e) { first = e; })) return ec;
    EXPECT_TRUE(run_until([&] { return first.has_value(); }));
    return first.value_or(redis::Errc::timeout);
  }

  // Runs one command to completion.
  RedisResult sync(redis::RedisClient& c, std::initializer_list<std::string_view> args) {
    auto r = std::make_shared<RedisResult>();
    c.command(args, [r](std::error_code ec, redis::Reply reply) {
      r->done = true;
      r->ec = ec;
      r->reply = std::move(reply);
    });
    EXPECT_TRUE(run_until([&] { return r->done; }));
    return *r;
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_{
      io_.get_executor()};
  std::unique_ptr<RedisServer> server_;
  redis::TlsOptions tls_;  // copied into every options()
  std::vector<std::shared_ptr<redis::RedisClient>> clients_;
  std::vector<std::shared_ptr<redis::RedisSubscriber>> subscribers_;
};

}  // namespace sig::test
