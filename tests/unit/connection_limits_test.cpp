// The connection budgets: total, per address, pending; slots released by RAII and moved.
#include <gtest/gtest.h>

#include <vector>

#include "net/connection_limits.hpp"

using namespace sig::net;
using boost::asio::ip::make_address;

TEST(ConnectionLimits, DefaultFromTheOpenFileLimit) {
  EXPECT_EQ(default_max_connections(20'000), 19'000U);  // 5 %
  EXPECT_EQ(default_max_connections(1024), 768U);       // at least 256 of headroom
  EXPECT_EQ(default_max_connections(100), 16U);         // never below 16
  EXPECT_EQ(default_max_connections(~std::uint64_t{0}), 9'500'000U);
}

TEST(ConnectionLimits, PerAddressTotalAndPending) {
  auto limiter = std::make_shared<ConnectionLimiter>(ConnectionLimits{5, 2, 4});
  const auto a = make_address("192.0.2.1");
  const auto b = make_address("192.0.2.2");
  std::vector<ConnectionSlot> slots(6);
  EXPECT_EQ(limiter->try_acquire(a, true, slots[0]), Refusal::none);
  EXPECT_EQ(limiter->try_acquire(make_address("::ffff:192.0.2.1"), true, slots[1]), Refusal::none);
  EXPECT_EQ(limiter->try_acquire(a, true, slots[2]), Refusal::per_ip);  // v4-mapped counts as a
  EXPECT_FALSE(slots[2].held());
  EXPECT_EQ(limiter->try_acquire(b, true, slots[2]), Refusal::none);
  EXPECT_EQ(limiter->try_acquire(make_address("192.0.2.3"), true, slots[3]), Refusal::none);
  EXPECT_EQ(limiter->try_acquire(make_address("192.0.2.4"), true, slots[4]), Refusal::pending);
  slots[0].joined();
  slots[0].joined();  // once only
  EXPECT_EQ(limiter->pending(), 3U);
  EXPECT_EQ(limiter->try_acquire(make_address("192.0.2.4"), true, slots[4]), Refusal::none);
  EXPECT_EQ(limiter->open(), 5U);
  slots[5 - 1].joined();
  EXPECT_EQ(limiter->try_acquire(make_address("192.0.2.5"), true, slots[5]), Refusal::max_connections);
  slots[1] = ConnectionSlot();  // released by assignment
  EXPECT_EQ(limiter->open(), 4U);
  EXPECT_EQ(limiter->try_acquire(a, true, slots[5]), Refusal::none);
  slots.clear();
  EXPECT_EQ(limiter->open(), 0U);
  EXPECT_EQ(limiter->pending(), 0U);
}

TEST(ConnectionLimits, MovedSlotReleasesOnce) {
  auto limiter = std::make_shared<ConnectionLimiter>(ConnectionLimits{10, 10, 10});
  ConnectionSlot s;
  ASSERT_EQ(limiter->try_acquire(make_address("::1"), true, s), Refusal::none);
  {
    ConnectionSlot moved(std::move(s));
    EXPECT_FALSE(s.held());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_EQ(limiter->open(), 1U);
  }
  EXPECT_EQ(limiter->open(), 0U);
}

TEST(ConnectionLimits, ForwardedClientIsCountedInsteadOfTheProxy) {
  auto limiter = std::make_shared<ConnectionLimiter>(ConnectionLimits{10, 1, 10});
  const auto proxy = make_address("10.0.0.1");
  const auto client = make_address("203.0.113.7");
  ConnectionSlot s1;
  ConnectionSlot s2;
  ASSERT_EQ(limiter->try_acquire(proxy, false, s1), Refusal::none);
  ASSERT_EQ(limiter->try_acquire(proxy, false, s2), Refusal::none);  // the proxy is not limited
  EXPECT_EQ(s1.attribute_to(client), Refusal::none);
  EXPECT_EQ(s1.attribute_to(client), Refusal::none);  // same client again: no change
  EXPECT_EQ(s2.attribute_to(client), Refusal::per_ip);
  EXPECT_EQ(s2.attribute_to(make_address("203.0.113.8")), Refusal::none);
  EXPECT_EQ(s1.attribute_to(make_address("203.0.113.8")), Refusal::per_ip);
  s2 = ConnectionSlot();
  EXPECT_EQ(s1.attribute_to(make_address("203.0.113.8")), Refusal::none);  // 203.0.113.7 freed
  ConnectionSlot s3;
  ASSERT_EQ(limiter->try_acquire(client, true, s3), Refusal::none);
}
