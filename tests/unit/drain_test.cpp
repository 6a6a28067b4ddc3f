// The drain of SIGTERM: the spread of the closes over --drain-period, and the drain on a real
// io_context with recording endpoints (who is told, with which code, and why the drain ends).
#include "app/drain.hpp"

#include <gtest/gtest.h>
#include <atomic>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "support/recording_endpoint.hpp"

namespace sig::app {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

TEST(SpreadSchedule, NoConnectionNoSlot) {
  EXPECT_TRUE(spread_schedule(0, 10s).empty());
}

TEST(SpreadSchedule, EvenSlotsFirstAtOnce) {
  EXPECT_EQ(spread_schedule(4, 1000ms), (std::vector<microseconds>{0us, 250ms, 500ms, 750ms}));
  EXPECT_EQ(spread_schedule(3, 10ms), (std::vector<microseconds>{0us, 3333us, 6666us}));
  EXPECT_EQ(spread_schedule(1, 10s), (std::vector<microseconds>{0us}));
}

TEST(SpreadSchedule, PeriodZeroIsAllAtOnce) {
  EXPECT_EQ(spread_schedule(5, 0ms), std::vector<microseconds>(5, 0us));
}

TEST(SpreadSchedule, ManyConnectionsLongPeriodStayOrderedAndWithin) {
  // The largest period the options allow, many connections: no overflow, ordered, within.
  const auto at = spread_schedule(1'000'000, 10min);
  ASSERT_EQ(at.size(), 1'000'000U);
  EXPECT_EQ(at.front(), 0us);
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end()));
  EXPECT_LT(at.back(), microseconds(10min));
  EXPECT_GE(at.back(), microseconds(10min) - 1ms);
  EXPECT_EQ(at[500'000], microseconds(5min));
}

struct Fixture {
  boost::asio::io_context ioc;
  net::ConnectionRegistry registry;
  std::vector<std::shared_ptr<test_support::RecordingEndpoint>> endpoints;
  std::vector<net::ConnectionRegistry::Id> ids;
  std::optional<DrainEnd> ended;

  void open(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      endpoints.push_back(std::make_shared<test_support::RecordingEndpoint>());
      ids.push_back(registry.add(endpoints.back()).id);
    }
  }
  std::size_t told() const {
    return static_cast<std::size_t>(std::count_if(endpoints.begin(), endpoints.end(), [](const auto& e) {
      return e->closed() == protocol::CloseCode::service_restart;
    }));
  }
};

TEST(Drain, TellsEveryConnectionWith1012AndEndsWhenTheyAreGone) {
  Fixture f;
  f.open(5);
  Drain drain(boost::asio::make_strand(f.ioc), f.registry, {50ms, 5s, {}},
              [&](DrainEnd why) { f.ended = why; });
  boost::asio::post(f.ioc, [&] { drain.start(); });
  // The connections go away as the transport would once told: here, by polling them.
  std::function<void()> reap;
  boost::asio::steady_timer t(f.ioc);
  reap = [&] {
    for (std::size_t i = 0; i < f.endpoints.size(); ++i) {
      if (f.endpoints[i]->closed()) f.registry.remove(f.ids[i]);
    }
    if (f.ended) return;
    t.expires_after(5ms);
    t.async_wait([&](boost::system::error_code) { reap(); });
  };
  reap();
  f.ioc.run_for(5s);
  ASSERT_TRUE(f.ended.has_value());
  EXPECT_EQ(*f.ended, DrainEnd::all_gone);
  EXPECT_EQ(f.told(), 5U);
  EXPECT_TRUE(f.registry.draining());
  EXPECT_TRUE(f.registry.add(std::make_shared<test_support::RecordingEndpoint>()).draining);
}

TEST(Drain, EndsAtTheTimeoutWhenAConnectionStays) {
  Fixture f;
  f.open(2);
  Drain drain(boost::asio::make_strand(f.ioc), f.registry, {0ms, 100ms, {}},
              [&](DrainEnd why) { f.ended = why; });
  boost::asio::post(f.ioc, [&] { drain.start(); });
  f.ioc.run_for(5s);
  ASSERT_TRUE(f.ended.has_value());
  EXPECT_EQ(*f.ended, DrainEnd::timeout);
  EXPECT_EQ(f.told(), 2U);  // period 0: both at once
}

TEST(Drain, WaitsForOutstandingWorkOnceTheConnectionsAreGone) {
  // No connection left, but three webhook events not delivered: the drain ends only when they
  // are; with work that never finishes, at the timeout.
  {
    Fixture f;
    std::atomic<std::size_t> outstanding{3};
    std::optional<std::size_t> left_at_end;
    Drain drain(boost::asio::make_strand(f.ioc), f.registry, {0ms, 30s, [&] { return outstanding.load(); }},
                [&](DrainEnd why) {
                  f.ended = why;
                  left_at_end = outstanding.load();
                });
    boost::asio::post(f.ioc, [&] { drain.start(); });
    boost::asio::steady_timer t(f.ioc);
    std::function<void()> deliver = [&] {
      EXPECT_FALSE(f.ended.has_value()) << "ended with work outstanding";
      if (outstanding == 0) return;
      --outstanding;
      t.expires_after(30ms);
      t.async_wait([&](boost::system::error_code) { deliver(); });
    };
    deliver();
    f.ioc.run_for(5s);
    ASSERT_TRUE(f.ended.has_value());
    EXPECT_EQ(*f.ended, DrainEnd::all_gone);
    EXPECT_EQ(left_at_end, std::optional<std::size_t>{0});
  }
  Fixture f;
  Drain drain(boost::asio::make_strand(f.ioc), f.registry, {0ms, 100ms, [] { return std::size_t{1}; }},
              [&](DrainEnd why) { f.ended = why; });
  boost::asio::post(f.ioc, [&] { drain.start(); });
  f.ioc.run_for(5s);
  ASSERT_TRUE(f.ended.has_value());
  EXPECT_EQ(*f.ended, DrainEnd::timeout);
}

TEST(Drain, NoConnectionEndsAtOnceAndASecondSignalEndsIt) {
  {
    Fixture f;
    Drain drain(boost::asio::make_strand(f.ioc), f.registry, {10s, 30s, {}},
                [&](DrainEnd why) { f.ended = why; });
    boost::asio::post(f.ioc, [&] { drain.start(); });
    f.ioc.run_for(5s);
    ASSERT_TRUE(f.ended.has_value());
    EXPECT_EQ(*f.ended, DrainEnd::all_gone);
  }
  Fixture f;
  f.open(3);
  int calls = 0;
  Drain drain(boost::asio::make_strand(f.ioc), f.registry, {10s, 30s, {}}, [&](DrainEnd why) {
    f.ended = why;
    ++calls;
  });
  boost::asio::post(f.ioc, [&] {
    drain.start();
    EXPECT_TRUE(drain.running());
    drain.interrupt();
    drain.interrupt();  // a third signal: nothing more
    EXPECT_FALSE(drain.running());
  });
  f.ioc.run_for(5s);
  ASSERT_TRUE(f.ended.has_value());
  EXPECT_EQ(*f.ended, DrainEnd::signal);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(f.told(), 1U);  // only the first slot (at 0) had come
}

}  // namespace
}  // namespace sig::app
