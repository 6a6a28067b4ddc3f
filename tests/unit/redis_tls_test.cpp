// RedisClient / RedisSubscriber over TLS (rediss://) against a real TLS-only redis-server, with a
// throwaway PKI made by the openssl CLI (tests/support/test_pki.hpp). Skipped when
// redis-server or openssl is missing.

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "redis/client.hpp"
#include "support/redis_fixture.hpp"
#include "support/redis_server.hpp"
#include "support/test_pki.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sig::redis::Errc;
using sig::redis::RedisClient;
using sig::redis::Reply;
using sig::redis::Script;
using sig::test::RedisServer;
using sig::test::RedisTls;
using sig::test::TestPki;
using Result = sig::test::RedisResult;

class RedisTlsTest : public sig::test::RedisFixture {
 protected:
  static void SetUpTestSuite() {
    if (TestPki::available()) pki_ = std::make_unique<TestPki>();
  }
  static void TearDownTestSuite() { pki_.reset(); }

  void SetUp() override {
    if (!pki_) GTEST_SKIP() << "no " << TestPki::kOpenssl;
    tls_.ca_file = pki_->ca_cert();
    RedisFixture::SetUp();
  }

  std::unique_ptr<RedisServer> make_server() override { return std::make_unique<RedisServer>(server_tls()); }

  // The server's files: its certificate signed by the trusted CA (or by the other one).
  static RedisTls server_tls(bool auth_clients = false, bool untrusted = false) {
    RedisTls t;
    t.cert_file = untrusted ? pki_->other_server_cert() : pki_->server_cert();
    t.key_file = untrusted ? pki_->other_server_key() : pki_->server_key();
    t.ca_file = pki_->ca_cert();
    t.auth_clients = auth_clients;
    if (auth_clients) {
      t.probe_cert_file = pki_->client_cert();
      t.probe_key_file = pki_->client_key();
    }
    return t;
  }

  std::string url_for(const std::string& host) const {
    return "rediss://" + host + ":" + std::to_string(server_->port());
  }

  static std::unique_ptr<TestPki> pki_;
};

std::unique_ptr<TestPki> RedisTlsTest::pki_;

TEST_F(RedisTlsTest, CommandsAndTenThousandPipelinedCommands) {
  ASSERT_TRUE(server_->tls());
  auto c = connect();
  auto r = sync(*c, {"SET", "k1", "v1"});
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.reply, Reply::string_reply("OK", Reply::Type::status));
  r = sync(*c, {"GET", "k1"});
  EXPECT_EQ(r.reply, Reply::string_reply("v1"));
  r = sync(*c, {"GET", "missing"});
  EXPECT_TRUE(r.reply.is_nil());
  r = sync(*c, {"HSET", "k1", "f", "v"});
  EXPECT_EQ(r.ec, Errc::server_error);
  EXPECT_TRUE(r.reply.str.starts_with("WRONGTYPE")) << r.reply.str;

  // Binary-safe, and a reply spanning many TLS records and reads.
  const std::string binary("a\0b\r\n$3\r\n\0", 10);
  sync(*c, {"SET", "bin", binary});
  EXPECT_EQ(sync(*c, {"GET", "bin"}).reply.str, binary);
  std::string big(3U << 20U, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096)
    big[i] = static_cast<char>('a' + (i / 4096) % 26);
  EXPECT_FALSE(sync(*c, {"SET", "big", big}).ec);
  EXPECT_EQ(sync(*c, {"GET", "big"}).reply.str, big);
  sync(*c, {"DEL", "k1", "bin", "big"});

  constexpr int kCount = 10000;
  std::vector<std::string> keys;
  keys.reserve(kCount);
  for (int i = 0; i < kCount; ++i)
    keys.push_back("p:" + std::to_string(i));
  int set_ok = 0;
  // Issued from the strand in one go: queued while a write is in flight, gathered into the next.
  asio::post(c->executor(), [&] {
    for (int i = 0; i < kCount; ++i) {
      c->command({"SET", keys[static_cast<std::size_t>(i)], std::to_string(i)},
                 [&set_ok](std::error_code ec, const Reply& reply) {
                   if (!ec && reply.str == "OK") ++set_ok;
                 });
    }
  });
  std::vector<int> order;
  order.reserve(kCount);
  int get_ok = 0;
  for (int i = 0; i < kCount; ++i) {
    c->command({"GET", keys[static_cast<std::size_t>(i)]}, [&, i](std::error_code ec, const Reply& reply) {
      order.push_back(i);
      if (!ec && reply.str == std::to_string(i)) ++get_ok;
    });
  }
  ASSERT_TRUE(run_until([&] { return order.size() == kCount; }, 30s));
  EXPECT_EQ(set_ok, kCount);
  EXPECT_EQ(get_ok, kCount);
  for (int i = 0; i < kCount; ++i)
    ASSERT_EQ(order[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(sync(*c, {"DBSIZE"}).reply, Reply::integer_reply(kCount));
}

TEST_F(RedisTlsTest, MaxPendingFailsFast) {
  auto o = options();
  o.max_pending = 10;
  auto c = connect(o);
  int ok = 0;
  int refused = 0;
  asio::post(c->executor(), [&] {
    for (int i = 0; i < 50; ++i) {
      c->command({"PING"}, [&](std::error_code ec, const Reply&) {
        if (!ec) ++ok;
        if (ec == Errc::too_many_pending) ++refused;
      });
    }
  });
  ASSERT_TRUE(run_until([&] { return ok + refused == 50; }));
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(refused, 40);
}

TEST_F(RedisTlsTest, EvalShaWithNoscriptFallback) {
  auto c = connect();
  const Script script("redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); return redis.call('HLEN', KEYS[1])");
  sync(*c, {"SCRIPT", "FLUSH"});
  auto run = [&](std::string_view field) {
    auto res = std::make_shared<Result>();
    c->eval(script, {"h"}, {field, "v"}, [res](std::error_code ec, Reply reply) {
      *res = {true, ec, std::move(reply)};
    });
    EXPECT_TRUE(run_until([&] { return res->done; }));
    return *res;
  };
  // Not loaded: NOSCRIPT, SCRIPT LOAD, EVALSHA again.
  auto r = run("u1");
  EXPECT_FALSE(r.ec) << r.ec.message() << " " << sig::redis::to_string(r.reply);
  EXPECT_EQ(r.reply, Reply::integer_reply(1));
  r = sync(*c, {"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(r.reply.is_array());
  EXPECT_EQ(r.reply.elements.at(0), Reply::integer_reply(1));
  EXPECT_EQ(run("u2").reply, Reply::integer_reply(2));
  sync(*c, {"SCRIPT", "FLUSH"});
  EXPECT_EQ(run("u3").reply, Reply::integer_reply(3));

  const Script bad("return redis.call('NOPE')");
  auto res = std::make_shared<Result>();
  c->eval(bad, {}, {}, [res](std::error_code ec, Reply reply) { *res = {true, ec, std::move(reply)}; });
  ASSERT_TRUE(run_until([&] { return res->done; }));
  EXPECT_EQ(res->ec, Errc::server_error);
  EXPECT_TRUE(res->reply.is_error());
}

TEST_F(RedisTlsTest, SubscriberMessagesPatternsAndUnsubscribe) {
  auto pub = connect();
  auto sub = subscriber(options());
  std::vector<std::pair<std::string, std::string>> got;
  std::vector<std::pair<std::string, std::string>> got_pattern;
  int confirmed = 0;
  sub->subscribe(
      "session:events:s1", [&](const std::string& ch, const std::string& msg) { got.emplace_back(ch, msg); },
      [&](std::error_code ec) { confirmed += ec ? 0 : 1; });
  sub->psubscribe(
      "room:*", [&](const std::string& ch, const std::string& msg) { got_pattern.emplace_back(ch, msg); },
      [&](std::error_code ec) { confirmed += ec ? 0 : 1; });
  ASSERT_TRUE(run_until([&] { return confirmed == 2; }));

  const std::string binary("x\0y", 3);
  EXPECT_EQ(sync(*pub, {"PUBLISH", "session:events:s1", "hello"}).reply, Reply::integer_reply(1));
  sync(*pub, {"PUBLISH", "session:events:s1", binary});
  sync(*pub, {"PUBLISH", "room:42", "r42"});
  sync(*pub, {"PUBLISH", "other", "nobody"});
  ASSERT_TRUE(run_until([&] { return got.size() == 2 && got_pattern.size() == 1; }));
  EXPECT_EQ(got[0], std::make_pair(std::string("session:events:s1"), std::string("hello")));
  EXPECT_EQ(got[1].second, binary);
  EXPECT_EQ(got_pattern[0], std::make_pair(std::string("room:42"), std::string("r42")));

  // Unsubscribed: a later message on another channel of the same connection proves that the
  // earlier one was not delivered.
  sub->unsubscribe("session:events:s1");
  bool barrier = false;
  bool barrier_confirmed = false;
  sub->subscribe(
      "barrier", [&](const std::string&, const std::string&) { barrier = true; },
      [&](std::error_code ec) { barrier_confirmed = !ec; });
  ASSERT_TRUE(run_until([&] { return barrier_confirmed; }));
  sync(*pub, {"PUBLISH", "session:events:s1", "late"});
  sync(*pub, {"PUBLISH", "barrier", "b"});
  ASSERT_TRUE(run_until([&] { return barrier; }));
  EXPECT_EQ(got.size(), 2U);
  // Redis agrees: one channel (barrier) and one pattern left.
  EXPECT_EQ(sync(*pub, {"PUBSUB", "NUMSUB", "session:events:s1"}).reply.elements.at(1),
            Reply::integer_reply(0));
  EXPECT_EQ(sync(*pub, {"PUBSUB", "NUMPAT"}).reply, Reply::integer_reply(1));
}

TEST_F(RedisTlsTest, AuthWithPasswordAndSelect) {
  server_.reset();
  server_ = std::make_unique<RedisServer>(server_tls(), std::vector<std::string>{"--requirepass", "s3cret"});
  auto c = connect(options(server_->url("s3cret", 2)));
  sync(*c, {"SET", "indb2", "yes"});
  auto c0 = connect(options("rediss://default:s3cret@127.0.0.1:" + std::to_string(server_->port()) + "/0"));
  EXPECT_TRUE(sync(*c0, {"GET", "indb2"}).reply.is_nil());
  sync(*c0, {"SELECT", "2"});
  EXPECT_EQ(sync(*c0, {"GET", "indb2"}).reply.str, "yes");

  EXPECT_EQ(first_result(options(server_->url("wrong"))), Errc::auth_failed);
  EXPECT_EQ(first_result(options(server_->url())), Errc::handshake_failed);  // NOAUTH
}

TEST_F(RedisTlsTest, ReconnectsAndResubscribesAfterTheServerRestarts) {
  auto c = RedisClient::create(io_.get_executor(), options());
  clients_.push_back(c);
  int connected = 0;
  int reconnected = 0;
  std::vector<std::error_code> disconnected;
  c->on_connected([&] { ++connected; });
  c->on_reconnected([&] { ++reconnected; });
  c->on_disconnected([&](std::error_code ec) { disconnected.push_back(ec); });
  ASSERT_FALSE(c->start());
  ASSERT_TRUE(run_until([&] { return connected == 1; }));

  auto sub = subscriber(options());
  int sub_reconnected = 0;
  std::optional<std::error_code> sub_lost;
  sub->on_reconnected([&] { ++sub_reconnected; });
  sub->on_disconnected([&](std::error_code ec) { sub_lost = ec; });
  std::vector<std::string> messages;
  std::vector<std::string> pattern_messages;
  int confirmed = 0;
  sub->subscribe(
      "chan", [&](const std::string&, const std::string& m) { messages.push_back(m); },
      [&](std::error_code ec) { confirmed += ec ? 0 : 1; });
  sub->psubscribe(
      "pat:*", [&](const std::string&, const std::string& m) { pattern_messages.push_back(m); },
      [&](std::error_code ec) { confirmed += ec ? 0 : 1; });
  ASSERT_TRUE(run_until([&] { return confirmed == 2; }));

  // Commands in flight when Redis goes get connection_lost; none is lost silently.
  std::vector<std::error_code> inflight;
  for (int i = 0; i < 100; ++i)
    c->command({"BLPOP", "never", "0"}, [&](std::error_code ec, const Reply&) { inflight.push_back(ec); });
  auto probe = connect();
  ASSERT_TRUE(run_until([&] {  // the first BLPOP is blocking in Redis, the others queued behind it
    return sync(*probe, {"INFO", "clients"}).reply.str.find("blocked_clients:1") != std::string::npos;
  }));
  server_->stop();
  ASSERT_TRUE(run_until([&] { return disconnected.size() == 1 && sub_lost.has_value(); }));
  EXPECT_EQ(disconnected[0], Errc::connection_lost);
  EXPECT_EQ(*sub_lost, Errc::connection_lost);
  ASSERT_TRUE(run_until([&] { return inflight.size() == 100; }));
  for (const auto& ec : inflight)
    EXPECT_EQ(ec, Errc::connection_lost);
  EXPECT_FALSE(c->connected());
  auto down = sync(*c, {"GET", "x"});
  EXPECT_EQ(down.ec, Errc::not_connected);

  server_->start();
  ASSERT_TRUE(run_until([&] { return reconnected == 1 && sub_reconnected == 1; }));
  EXPECT_EQ(connected, 2);
  EXPECT_EQ(disconnected.size(), 1U);
  EXPECT_FALSE(sync(*c, {"SET", "after", "restart"}).ec);
  // The subscriptions were restored before on_reconnected.
  EXPECT_EQ(sync(*c, {"PUBLISH", "chan", "back"}).reply, Reply::integer_reply(1));
  EXPECT_EQ(sync(*c, {"PUBLISH", "pat:1", "p-back"}).reply, Reply::integer_reply(1));
  ASSERT_TRUE(run_until([&] { return messages.size() == 1 && pattern_messages.size() == 1; }));
  EXPECT_EQ(messages[0], "back");
  EXPECT_EQ(pattern_messages[0], "p-back");
}

TEST_F(RedisTlsTest, UntrustedCertificateFailsTheHandshakeAndIsRetried) {
  // The server presents a certificate from a CA the client does not trust.
  server_->stop();
  server_->set_tls(server_tls(false, true));
  server_->start();
  std::shared_ptr<RedisClient> c;
  int connected = 0;
  int disconnected = 0;
  EXPECT_EQ(first_result(options(), &c), Errc::tls_handshake_failed);
  c->on_connected([&] { ++connected; });
  c->on_disconnected([&](std::error_code) { ++disconnected; });
  EXPECT_FALSE(c->connected());
  EXPECT_EQ(sync(*c, {"PING"}).ec, Errc::not_connected);

  // Retried with backoff: once the server presents a trusted certificate, the client connects.
  server_->stop();
  server_->set_tls(server_tls());
  server_->start();
  ASSERT_TRUE(run_until([&] { return connected == 1; }));
  EXPECT_EQ(disconnected, 0);  // it had never been connected
  EXPECT_FALSE(sync(*c, {"PING"}).ec);
}

TEST_F(RedisTlsTest, ServerNameIsVerified) {
  // The certificate names 127.0.0.1 and localhost.
  tls_.server_name = "redis.example.com";
  EXPECT_EQ(first_result(options()), Errc::tls_handshake_failed);
  tls_.server_name = "localhost";  // SNI and verification by name, connecting to 127.0.0.1
  auto by_name = connect(options());
  EXPECT_FALSE(sync(*by_name, {"PING"}).ec);
  tls_.server_name.clear();  // the URL's host, resolved
  auto resolved = connect(options(url_for("localhost")));
  EXPECT_FALSE(sync(*resolved, {"PING"}).ec);
}

TEST_F(RedisTlsTest, InsecureSkipVerifyConnectsToAnyCertificate) {
  tls_.ca_file = pki_->other_ca_cert();
  EXPECT_EQ(first_result(options()), Errc::tls_handshake_failed);
  tls_.insecure_skip_verify = true;
  auto c = connect(options());
  EXPECT_FALSE(sync(*c, {"PING"}).ec);
}

TEST_F(RedisTlsTest, MutualTls) {
  server_.reset();
  server_ = std::make_unique<RedisServer>(server_tls(true));
  // Without a client certificate the server refuses the session.
  EXPECT_EQ(first_result(options()), Errc::tls_handshake_failed);
  // With one signed by the CA the server trusts: commands and pub/sub work.
  tls_.cert_file = pki_->client_cert();
  tls_.key_file = pki_->client_key();
  auto c = connect(options());
  auto sub = subscriber(options());
  std::vector<std::string> messages;
  bool confirmed = false;
  sub->subscribe(
      "m", [&](const std::string&, const std::string& m) { messages.push_back(m); },
      [&](std::error_code ec) { confirmed = !ec; });
  ASSERT_TRUE(run_until([&] { return confirmed; }));
  EXPECT_EQ(sync(*c, {"PUBLISH", "m", "mutual"}).reply, Reply::integer_reply(1));
  ASSERT_TRUE(run_until([&] { return messages.size() == 1; }));
  EXPECT_EQ(messages[0], "mutual");
}

TEST_F(RedisTlsTest, UnusableTlsFilesAreReportedByStart) {
  const std::string garbage = (pki_->dir() / "garbage.pem").string();
  std::ofstream(garbage) << "not a certificate\n";
  auto start_with = [&](sig::redis::TlsOptions t) {
    auto o = options();
    o.tls = std::move(t);
    auto c = RedisClient::create(io_.get_executor(), o);
    return c->start();
  };
  auto expect_config_error = [&](const sig::redis::TlsOptions& t, const std::string& mention) {
    EXPECT_EQ(start_with(t), Errc::tls_config) << mention;
    std::string why;
    EXPECT_EQ(sig::redis::check_tls_options(t, &why), Errc::tls_config);
    EXPECT_NE(why.find(mention), std::string::npos) << why;
  };
  sig::redis::TlsOptions t;
  t.ca_file = "/nonexistent/ca.pem";
  expect_config_error(t, "/nonexistent/ca.pem");
  t.ca_file = garbage;
  expect_config_error(t, garbage);
  t.ca_file = pki_->ca_cert();
  t.cert_file = pki_->client_cert();  // without its key
  expect_config_error(t, "key file");
  t.key_file = pki_->server_key();  // not the certificate's key
  expect_config_error(t, "mismatch");
  t.key_file = garbage;
  expect_config_error(t, garbage);

  t.key_file = pki_->client_key();
  std::string why;
  EXPECT_FALSE(sig::redis::check_tls_options(t, &why)) << why;
  EXPECT_FALSE(sig::redis::check_tls_options({}));  // the system trust store
}

TEST_F(RedisTlsTest, ReplyAndSubscriberTimeoutsDropAndReconnect) {
  auto o = options();
  o.command_timeout = 300ms;
  o.connect_timeout = 300ms;
  auto c = connect(o);
  auto sub = subscriber(o);
  std::vector<std::string> messages;
  bool confirmed = false;
  sub->subscribe(
      "f", [&](const std::string&, const std::string& m) { messages.push_back(m); },
      [&](std::error_code ec) { confirmed = !ec; });
  ASSERT_TRUE(run_until([&] { return confirmed; }));
  std::vector<std::error_code> lost;
  std::optional<std::error_code> sub_lost;
  int reconnected = 0;
  int sub_reconnected = 0;
  c->on_disconnected([&](std::error_code ec) { lost.push_back(ec); });
  c->on_reconnected([&] { ++reconnected; });
  sub->on_disconnected([&](std::error_code ec) { sub_lost = ec; });
  sub->on_reconnected([&] { ++sub_reconnected; });

  server_->pause();
  auto r = sync(*c, {"PING"});
  EXPECT_EQ(r.ec, Errc::timeout);
  ASSERT_EQ(lost.size(), 1U);
  EXPECT_EQ(lost[0], Errc::timeout);
  // The subscriber's own health check finds the frozen server too.
  ASSERT_TRUE(run_until([&] { return sub_lost.has_value(); }));
  EXPECT_EQ(*sub_lost, Errc::timeout);
  run_for(400ms);  // attempts against the frozen server time out in the TLS handshake
  server_->resume();
  ASSERT_TRUE(run_until([&] { return reconnected == 1 && sub_reconnected == 1; }));
  EXPECT_EQ(sync(*c, {"PUBLISH", "f", "after"}).reply, Reply::integer_reply(1));
  ASSERT_TRUE(run_until([&] { return messages.size() == 1; }));
}

TEST_F(RedisTlsTest, ConnectTimeoutAgainstAServerThatNeverAnswersTheHandshake) {
  asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
  auto o = options("rediss://127.0.0.1:" + std::to_string(silent.local_endpoint().port()));
  o.connect_timeout = 200ms;
  std::shared_ptr<RedisClient> c;
  EXPECT_EQ(first_result(o, &c), Errc::timeout);
  c->close();
  silent.close();
}

TEST_F(RedisTlsTest, CloseDuringInflightCommands) {
  auto c = connect();
  constexpr int kCount = 5000;
  int ok = 0;
  int closed = 0;
  int other = 0;
  for (int i = 0; i < kCount; ++i) {
    const bool blocker = i == 10;  // holds the connection: everything behind it is in flight
    c->command(blocker ? std::initializer_list<std::string_view>{"BLPOP", "never", "2"}
                       : std::initializer_list<std::string_view>{"INCR", "n"},
               [&](std::error_code ec, const Reply&) {
                 if (!ec) {
                   ++ok;
                 } else if (ec == Errc::closed || ec == Errc::not_connected) {
                   ++closed;
                 } else {
                   ++other;
                 }
               });
  }
  ASSERT_TRUE(run_until([&] { return ok >= 10; }));
  c->close();
  ASSERT_TRUE(run_until([&] { return ok + closed + other == kCount; }));
  EXPECT_EQ(other, 0);
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(closed, kCount - 10);
  EXPECT_EQ(sync(*c, {"PING"}).ec, Errc::closed);
}

TEST_F(RedisTlsTest, DroppingTheLastReferenceCloses) {
  int callbacks = 0;
  std::weak_ptr<RedisClient> weak;
  {
    auto c = RedisClient::create(io_.get_executor(), options());
    weak = c;
    std::optional<std::error_code> first;
    ASSERT_FALSE(c->start([&](std::error_code ec) { first = ec; }));
    ASSERT_TRUE(run_until([&] { return first.has_value(); }));
    for (int i = 0; i < 1000; ++i)
      c->command({"PING"}, [&](std::error_code, const Reply&) { ++callbacks; });
    // And one still in its TLS handshake.
    auto sub = sig::redis::RedisSubscriber::create(io_.get_executor(), options());
    ASSERT_FALSE(sub->start());
    sub->subscribe("x", [](const std::string&, const std::string&) {});
  }
  EXPECT_TRUE(weak.expired());
  ASSERT_TRUE(run_until([&] { return callbacks == 1000; }));
}

TEST_F(RedisTlsTest, CallbacksRunOnTheStrandWithManyThreads) {
  auto c = connect();
  std::atomic<int> off_strand{0};
  std::atomic<int> done{0};
  int unsynchronised_counter = 0;  // only touched on the client's strand
  std::vector<std::thread> threads;
  threads.reserve(3);
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([this] { io_.run(); });
  std::vector<std::thread> producers;
  producers.reserve(2);
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        c->command({"INCR", "mt"}, [&](std::error_code ec, const Reply&) {
          if (!c->executor().running_in_this_thread()) ++off_strand;
          if (!ec) ++unsynchronised_counter;
          ++done;
        });
      }
    });
  }
  for (auto& t : producers)
    t.join();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (done < 4000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  io_.stop();
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(done.load(), 4000);
  EXPECT_EQ(off_strand.load(), 0);
  io_.restart();
  EXPECT_EQ(sync(*c, {"GET", "mt"}).reply.str, "4000");
  asio::post(c->executor(), [&] { EXPECT_EQ(unsynchronised_counter, 4000); });
  io_.run_for(100ms);
}

}  // namespace
