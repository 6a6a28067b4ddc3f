// The webhook Publisher (src/webhook/dispatcher.cpp) on a real io_context against a local HTTP
// server (tests/support/http_test_server.hpp): signed deliveries, retries with the same id and
// body, per-session order, max-age, 4xx not retried, reconfigure.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "support/http_test_server.hpp"
#include "webhook/publisher.hpp"
#include "webhook/signing.hpp"

namespace {

using namespace std::chrono_literals;
using sig::domain::EventType;
using sig::domain::PlatformEvent;
using sig::test::HttpTestServer;

struct Seen {
  std::string id;
  std::string timestamp;
  std::string signature;
  std::string body;
  unsigned status = 0;
};

// Records every request; answers with script(nth attempt of this id, body).
class Receiver {
 public:
  using Script = std::function<HttpTestServer::Reply(int attempt, const std::string& body)>;
  explicit Receiver(Script script)
      : script_(std::move(script)), server_([this](const HttpTestServer::Request& r) { return on(r); }) {}
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/hook"; }
  std::vector<Seen> seen() const {
    const std::lock_guard lock(mutex_);
    return seen_;
  }
  std::vector<Seen> accepted() const {
    std::vector<Seen> out;
    for (auto& s : seen()) {
      if (s.status == 200) out.push_back(s);
    }
    return out;
  }

 private:
  HttpTestServer::Reply on(const HttpTestServer::Request& r) {
    Seen s{std::string(r["webhook-id"]), std::string(r["webhook-timestamp"]),
           std::string(r["webhook-signature"]), r.body(), 0};
    const std::lock_guard lock(mutex_);
    const int attempt = ++attempts_[s.id];
    auto reply = script_(attempt, s.body);
    s.status = reply.hang ? 0 : reply.status;
    seen_.push_back(s);
    return reply;
  }
  Script script_;
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
  std::map<std::string, int> attempts_;
  HttpTestServer server_;  // last: its threads call on() until it is destroyed
};

class Loop {
 public:
  Loop() : guard_(io.get_executor()), thread_([this] { io.run(); }) {}
  ~Loop() {
    guard_.reset();
    io.stop();
    thread_.join();
  }
  boost::asio::io_context io;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

sig::webhook::Settings settings_for(const std::string& url) {
  sig::webhook::Settings s;
  s.urls = {url};
  s.key = *sig::webhook::parse_secret(kSecret);
  s.retry_min = 10ms;
  s.retry_max = 50ms;
  s.timeout = 300ms;
  return s;
}

PlatformEvent joined(const std::string& session, const std::string& user) {
  PlatformEvent e;
  e.type = EventType::participant_joined;
  e.session_id = session;
  e.user_id = user;
  e.display_name = user;
  e.at = std::chrono::system_clock::now();
  return e;
}

TEST(WebhookPublisher, SignedRetriedWithTheSameIdAndInOrderPerSession) {
  // The first attempt of every event fails: a 500 for some, no answer (the timeout) for others.
  Receiver receiver([](int attempt, const std::string& body) {
    HttpTestServer::Reply r;
    if (attempt == 1) {
      if (body.find("\"u2\"") != std::string::npos) {
        r.hang = true;
      } else {
        r.status = 500;
      }
    }
    return r;
  });
  Loop loop;
  auto publisher = std::make_unique<sig::webhook::Publisher>(loop.io, settings_for(receiver.url()));
  for (const char* user : {"u1", "u2", "u3"})
    publisher->publish(joined("a", user));
  publisher->publish(joined("b", "v1"));
  ASSERT_TRUE(wait_until([&] { return receiver.accepted().size() == 4; }));
  const auto key = *sig::webhook::parse_secret(kSecret);
  for (const auto& s : receiver.seen()) {
    EXPECT_EQ(s.signature, sig::webhook::sign(key, s.id, std::stoll(s.timestamp), s.body));
  }
  std::map<std::string, std::vector<Seen>> by_id;
  for (const auto& s : receiver.seen())
    by_id[s.id].push_back(s);
  EXPECT_EQ(by_id.size(), 4U);
  for (const auto& [id, tries] : by_id) {
    ASSERT_GE(tries.size(), 2U) << id;
    EXPECT_NE(tries.front().status, 200U);
    for (const auto& t : tries)
      EXPECT_EQ(t.body, tries.front().body);
  }
  std::vector<std::string> order_a;
  for (const auto& s : receiver.accepted()) {
    const auto j = nlohmann::json::parse(s.body);
    if (j["data"]["sessionId"] == "a") order_a.push_back(j["data"]["userId"]);
  }
  EXPECT_EQ(order_a, (std::vector<std::string>{"u1", "u2", "u3"}));
  // The receiver records a 200 before the sender has read it.
  EXPECT_TRUE(wait_until([&] { return publisher->stats().delivered.load() == 4U; }));
  EXPECT_GE(publisher->stats().retried.load(), 4U);
  EXPECT_TRUE(wait_until([&] { return publisher->stats().queued.load() == 0; }));
}

TEST(WebhookPublisher, FourHundredIsNotRetriedAndMaxAgeDrops) {
  Receiver receiver([](int, const std::string& body) {
    HttpTestServer::Reply r;
    r.status = body.find("\"gone\"") != std::string::npos ? 404 : 503;
    return r;
  });
  Loop loop;
  auto settings = settings_for(receiver.url());
  settings.max_age = 200ms;
  sig::webhook::Publisher publisher(loop.io, settings);
  publisher.publish(joined("a", "gone"));
  publisher.publish(joined("b", "busy"));
  ASSERT_TRUE(wait_until(
      [&] { return publisher.stats().failed.load() == 1 && publisher.stats().expired.load() == 1; }));
  EXPECT_EQ(publisher.stats().delivered.load(), 0U);
  EXPECT_EQ(publisher.stats().queued.load(), 0U);
  int gone = 0;
  for (const auto& s : receiver.seen())
    gone += s.body.find("\"gone\"") != std::string::npos ? 1 : 0;
  EXPECT_EQ(gone, 1);
}

TEST(WebhookPublisher, TheInboxIsBoundedWhenTheSenderCannotKeepUp) {
  // The sender's io_context does not run yet (a starved strand): publish() must not let the inbox
  // grow past the queue limit; the oldest go, counted, and the first delivery announces them.
  Receiver receiver([](int, const std::string&) { return HttpTestServer::Reply{}; });
  boost::asio::io_context io;
  auto settings = settings_for(receiver.url());
  settings.queue_limit = 4;
  sig::webhook::Publisher publisher(io, settings);
  for (int i = 0; i < 10; ++i)
    publisher.publish(joined("s", "u" + std::to_string(i)));
  EXPECT_EQ(publisher.stats().dropped.load(), 6U);
  EXPECT_EQ(publisher.outstanding(), 4U);
  std::thread runner([&io] { io.run_for(5s); });
  ASSERT_TRUE(wait_until([&] { return publisher.stats().delivered.load() == 4; }));
  io.stop();
  runner.join();
  const auto got = receiver.accepted();
  ASSERT_EQ(got.size(), 4U);
  EXPECT_NE(got[0].body.find("\"droppedBefore\":6"), std::string::npos) << got[0].body;
  EXPECT_NE(got[0].body.find("\"u6\""), std::string::npos) << "the newest four are kept: " << got[0].body;
  EXPECT_EQ(got[1].body.find("droppedBefore"), std::string::npos) << got[1].body;
}

TEST(WebhookPublisher, ReconfigureAddsTargetsAndChangesTheKey) {
  Receiver receiver([](int, const std::string&) { return HttpTestServer::Reply{}; });
  Loop loop;
  auto settings = settings_for(receiver.url());
  settings.urls.clear();
  sig::webhook::Publisher publisher(loop.io, settings);
  publisher.publish(joined("a", "ignored"));  // no target: nothing to do
  const std::string other_key(32, 'k');
  publisher.reconfigure({receiver.url()}, other_key);
  ASSERT_TRUE(wait_until([&] {
    publisher.publish(joined("a", "later"));  // reconfigure is posted: publish until it applies
    return !receiver.accepted().empty();
  }));
  const auto s = receiver.accepted().front();
  EXPECT_EQ(s.body.find("ignored"), std::string::npos);
  EXPECT_EQ(s.signature, sig::webhook::sign(other_key, s.id, std::stoll(s.timestamp), s.body));
}

}  // namespace
