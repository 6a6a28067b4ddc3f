// run_io: an exception thrown by a handler is logged and the loop goes on.
#include "app/io_runner.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace sig::app {
namespace {

class CaptureLog : public ::testing::Test {
 protected:
  void SetUp() override {
    log::init("info", "json");
    log::set_sink([this](std::string_view line) {
      const std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override { log::set_sink({}); }
  std::vector<std::string> lines() {
    const std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

using RunIo = CaptureLog;

TEST_F(RunIo, AHandlerThatThrowsIsLoggedAndTheNextOneRuns) {
  boost::asio::io_context ioc;
  bool second_ran = false;
  boost::asio::post(ioc, [] { throw std::length_error("header too large"); });
  boost::asio::post(ioc, [&] { second_ran = true; });
  run_io(ioc);  // returns once both ran: nothing else keeps the loop busy
  EXPECT_TRUE(second_ran);
  const auto got = lines();
  ASSERT_EQ(got.size(), 1U);
  const auto j = nlohmann::json::parse(got[0]);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["error"], "header too large");
}

TEST_F(RunIo, ANonStandardExceptionIsCaughtToo) {
  boost::asio::io_context ioc;
  bool second_ran = false;
  boost::asio::post(ioc, [] { throw 42; });
  boost::asio::post(ioc, [&] { second_ran = true; });
  run_io(ioc);
  EXPECT_TRUE(second_ran);
  ASSERT_EQ(lines().size(), 1U);
}

// What a connection looks like to the loop: its handler holds it by shared_ptr, on its strand.
// The one that throws is released; the strand and the other connections go on.
TEST_F(RunIo, TheThrowingConnectionIsReleasedAndItsStrandGoesOn) {
  boost::asio::io_context ioc;
  auto strand = boost::asio::make_strand(ioc);
  auto connection = std::make_shared<int>(7);
  const std::weak_ptr<int> watch = connection;
  std::atomic<int> ran{0};
  boost::asio::post(strand,
                    [c = std::move(connection)] { throw std::runtime_error("boom " + std::to_string(*c)); });
  for (int i = 0; i < 100; ++i)
    boost::asio::post(strand, [&] { ran.fetch_add(1); });
  std::vector<std::thread> pool;
  pool.reserve(2);
  for (int i = 0; i < 2; ++i)
    pool.emplace_back([&ioc] { run_io(ioc); });
  run_io(ioc);
  for (auto& t : pool)
    t.join();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_TRUE(watch.expired());
  const auto got = lines();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(nlohmann::json::parse(got[0])["error"], "boom 7");
}

TEST_F(RunIo, ReturnsWhenStopped) {
  boost::asio::io_context ioc;
  boost::asio::post(ioc, [&] { ioc.stop(); });
  bool after_stop = false;
  boost::asio::post(ioc, [&] { after_stop = true; });
  run_io(ioc);
  EXPECT_FALSE(after_stop);
  EXPECT_TRUE(lines().empty());
}

}  // namespace
}  // namespace sig::app
