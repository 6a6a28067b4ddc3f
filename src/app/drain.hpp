#pragma once
// The graceful drain of SIGTERM (docs/deployment.md, "Rolling restart"). The node refuses new
// WebSocket upgrades (HTTP 503 `draining`, so a load balancer tries another node), tells every
// open connection to move with close 1012 (service restart) at its slot in --drain-period, and
// ends when the last connection is gone or at --drain-timeout. The clients resume elsewhere: a
// close this server started is a lost connection for the domain (net::Departure::lost), so
// their places are kept.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "domain/endpoint.hpp"
#include "net/connection_registry.hpp"

namespace sig::app {

// When, counted from the drain's start, each of n connections is told to move: the i-th at
// i * period / n. Spread so that the other nodes do not get every client at the same instant;
// the first goes at once and all are told within the period. A period of 0: all at once.
std::vector<std::chrono::microseconds> spread_schedule(std::size_t n, std::chrono::milliseconds period);

enum class DrainEnd {
  all_gone,  // the last WebSocket connection closed (and nothing outstanding is left)
  timeout,   // --drain-timeout passed with connections still open
  signal,    // a second SIGTERM, or SIGINT
};
std::string_view to_string(DrainEnd end) noexcept;

class Drain {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  struct Options {
    std::chrono::milliseconds period{10'000};
    std::chrono::milliseconds timeout{30'000};
    // Work that must be done before the node goes, counted (the webhook events not delivered
    // yet): once the connections are gone the drain still waits for it to reach 0, within the
    // timeout. A rolling restart then loses no event of the participants it moved.
    std::function<std::size_t()> outstanding;
  };

  // `done` runs once, on the strand, when the drain ends (then the usual stop follows).
  Drain(Strand strand, net::ConnectionRegistry& registry, Options options,
        std::function<void(DrainEnd)> done);

  // On the strand, once. Logs one line (connections, period).
  void start();
  // On the strand: a second signal ends the drain now.
  void interrupt();
  bool started() const noexcept { return started_; }
  bool running() const noexcept { return started_ && !ended_; }

 private:
  using Clock = std::chrono::steady_clock;
  void close_due();
  void watch();
  void end(DrainEnd why);
  std::size_t outstanding() const;

  Strand strand_;
  net::ConnectionRegistry& registry_;
  Options options_;
  std::function<void(DrainEnd)> done_;
  boost::asio::steady_timer close_timer_;
  boost::asio::steady_timer watch_timer_;
  std::vector<std::weak_ptr<domain::Endpoint>> order_;  // shuffled: who goes first is chance
  std::vector<std::chrono::microseconds> at_;           // spread_schedule(order_.size())
  std::size_t next_ = 0;                                // order_[next_] is told next
  Clock::time_point start_;
  Clock::time_point deadline_;
  bool started_ = false;
  bool ended_ = false;
};

}  // namespace sig::app
