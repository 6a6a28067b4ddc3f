// The deadline scripts of the several-node mode (cluster/deadlines.hpp) against a real
// redis-server: the due script's verdict and next deadline for each session state (start
// timeout, duration, empty timeout), its reading of the directory's ISO 8601 dates, and the
// bucket's compare-and-set. Skipped when /usr/bin/redis-server is missing.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/deadlines.hpp"
#include "cluster/keys.hpp"
#include "common/time.hpp"
#include "redis/client.hpp"
#include "support/redis_fixtures.hpp"

using namespace sig;
using namespace std::chrono_literals;
using redis::Reply;

namespace {

const cluster::Layout keys;  // the one-server layout
constexpr std::int64_t kStart = 60'000, kEmpty = 5'000;

std::string iso(std::int64_t ms) {
  return format_iso8601(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

class ClusterDeadlinesTest : public test::RedisClientTest {
 protected:
  // The due script's {reason, next} for session "s" at `now`.
  std::pair<std::string, std::int64_t> due(std::int64_t now) {
    const auto r = eval(cluster::deadlines::due_script(), {keys.dir("s"), keys.ws("s")},
                        {std::to_string(now), std::to_string(kStart), std::to_string(kEmpty)});
    EXPECT_TRUE(r.is_array() && r.elements.size() == 2) << redis::to_string(r);
    if (!r.is_array() || r.elements.size() != 2) return {"?", -1};
    return {r.elements[0].str, r.elements[1].integer};
  }
};

constexpr std::int64_t kT0 = 1'764'540'000'123;  // 2025-11-30T22:00:00.123Z

TEST_F(ClusterDeadlinesTest, WaitingSessionTimesOutAtCreatedPlusStartTimeout) {
  cmd({"HSET", keys.dir("s"), "status", "waiting", "createdAt", iso(kT0), "durationSeconds", "0"});
  EXPECT_EQ(due(kT0 + 10), std::make_pair(std::string(), kT0 + kStart));
  EXPECT_EQ(due(kT0 + kStart - 1), std::make_pair(std::string(), kT0 + kStart));
  EXPECT_EQ(due(kT0 + kStart), std::make_pair(std::string("timeout"), std::int64_t{0}));
}

TEST_F(ClusterDeadlinesTest, ReadsTheDirectoryDatesExactly) {
  // Leap days, the turn of a century and of a year, before and after March (the algorithm's year
  // starts in March).
  for (const std::int64_t t : {951'782'400'000LL, 951'868'799'999LL, 1'709'251'199'999LL, 1'735'689'600'000LL,
                               1'767'225'599'001LL, 4'107'542'400'500LL}) {
    cmd({"HSET", keys.dir("s"), "status", "waiting", "createdAt", iso(t)});
    EXPECT_EQ(due(t).second, t + kStart) << iso(t);
  }
}

TEST_F(ClusterDeadlinesTest, StartedSessionCompletesAtItsDuration) {
  cmd({"HSET", keys.dir("s"), "status", "started", "createdAt", iso(kT0), "startedAt", iso(kT0 + 1000),
       "durationSeconds", "10"});
  cmd({"HSET", keys.ws("s"), "a", "n1:1"});
  EXPECT_EQ(due(kT0 + 2000), std::make_pair(std::string(), kT0 + 11'000));
  EXPECT_EQ(due(kT0 + 11'000), std::make_pair(std::string("completed"), std::int64_t{0}));
}

TEST_F(ClusterDeadlinesTest, StartedSessionLeftEmptyTimesOutFromWhenItWasFirstSeenEmpty) {
  cmd({"HSET", keys.dir("s"), "status", "started", "createdAt", iso(kT0), "startedAt", iso(kT0),
       "durationSeconds", "0"});
  cmd({"HSET", keys.ws("s"), "a", "n1:1"});
  EXPECT_EQ(due(kT0 + 100), std::make_pair(std::string(), std::int64_t{0}));  // nothing to wait for
  cmd({"DEL", keys.ws("s")});
  EXPECT_EQ(due(kT0 + 2000), std::make_pair(std::string(), kT0 + 2000 + kEmpty));  // empty from now
  EXPECT_EQ(due(kT0 + 3000), std::make_pair(std::string(), kT0 + 2000 + kEmpty));  // kept
  // Someone comes back: the empty period is forgotten; a new one starts when it is seen again.
  cmd({"HSET", keys.ws("s"), "a", "n1:2"});
  EXPECT_EQ(due(kT0 + 4000), std::make_pair(std::string(), std::int64_t{0}));
  EXPECT_TRUE(cmd({"HGET", keys.dir("s"), "emptySince"}).is_nil());
  cmd({"DEL", keys.ws("s")});
  EXPECT_EQ(due(kT0 + 5000), std::make_pair(std::string(), kT0 + 5000 + kEmpty));
  EXPECT_EQ(due(kT0 + 5000 + kEmpty), std::make_pair(std::string("timeout"), std::int64_t{0}));
}

TEST_F(ClusterDeadlinesTest, DurationAndEmptyTimeoutTheEarlierWins) {
  cmd({"HSET", keys.dir("s"), "status", "started", "createdAt", iso(kT0), "startedAt", iso(kT0),
       "durationSeconds", "3"});
  EXPECT_EQ(due(kT0), std::make_pair(std::string(), kT0 + 3000));  // empty: kT0 + 5000 is later
  EXPECT_EQ(due(kT0 + 3000), std::make_pair(std::string("completed"), std::int64_t{0}));
}

TEST_F(ClusterDeadlinesTest, EndedOrMissingSessionHasNoDeadline) {
  EXPECT_EQ(due(kT0), std::make_pair(std::string(), std::int64_t{0}));
  cmd({"HSET", keys.dir("s"), "status", "ended", "createdAt", iso(kT0)});
  EXPECT_EQ(due(kT0 + kStart * 2), std::make_pair(std::string(), std::int64_t{0}));
}

TEST_F(ClusterDeadlinesTest, SwapIsACompareAndSetOfTheScore) {
  const auto& swap = cluster::deadlines::swap_script();
  const std::string k = cluster::deadlines::key(keys, 0);
  EXPECT_EQ(k, "session:deadlines");
  EXPECT_EQ(cluster::deadlines::key_of(cluster::Layout(true), "abc").rfind("session:deadlines:{b", 0), 0U);
  cmd({"ZADD", k, "1000", "s"});
  EXPECT_EQ(eval(swap, {k}, {"s", "999", "5000"}).integer, 0);  // touched meanwhile: not swapped
  EXPECT_EQ(eval(swap, {k}, {"s", "1000", "5000"}).integer, 1);
  EXPECT_EQ(cmd({"ZSCORE", k, "s"}).str, "5000");
  EXPECT_EQ(eval(swap, {k}, {"s", "5000", ""}).integer, 1);  // removed
  EXPECT_TRUE(cmd({"ZSCORE", k, "s"}).is_nil());
  EXPECT_EQ(eval(swap, {k}, {"t", "1", "2"}).integer, 0);  // absent: not added
}

}  // namespace
