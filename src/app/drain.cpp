#include "app/drain.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>

#include "common/log.hpp"
#include "protocol/codes.hpp"

namespace sig::app {

namespace {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// How often the drain looks whether the last connection is gone. Counting is cheap (one lock);
// a callback from the transport on its last close would save little and couple the layers.
constexpr milliseconds kWatchInterval{50};

std::int64_t ms_since(std::chrono::steady_clock::time_point t) {
  return duration_cast<milliseconds>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::vector<microseconds> spread_schedule(std::size_t n, milliseconds period) {
  std::vector<microseconds> out;
  out.reserve(n);
  // In microseconds: exact enough for 10^7 connections over 10 minutes, and i * period stays far
  // below 2^63 (10^7 * 6 * 10^8).
  const auto span =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, duration_cast<microseconds>(period).count()));
  for (std::size_t i = 0; i < n; ++i)
    out.emplace_back(static_cast<std::int64_t>(static_cast<std::uint64_t>(i) * span / n));
  return out;
}

std::string_view to_string(DrainEnd end) noexcept {
  switch (end) {
    case DrainEnd::all_gone: return "all_gone";
    case DrainEnd::timeout: return "timeout";
    case DrainEnd::signal: return "signal";
  }
  return "unknown";
}

Drain::Drain(Strand strand, net::ConnectionRegistry& registry, Options options,
             std::function<void(DrainEnd)> done)
    : strand_(std::move(strand)),
      registry_(registry),
      options_(std::move(options)),
      done_(std::move(done)),
      close_timer_(strand_),
      watch_timer_(strand_) {}

void Drain::start() {
  if (started_) return;
  started_ = true;
  start_ = Clock::now();
  deadline_ = start_ + options_.timeout;
  order_ = registry_.start_draining();  // from here on, upgrades are refused
  std::shuffle(order_.begin(), order_.end(), std::mt19937(std::random_device{}()));
  at_ = spread_schedule(order_.size(), options_.period);
  log::info("draining", {{"connections", static_cast<std::uint64_t>(order_.size())},
                         {"period_ms", static_cast<std::int64_t>(options_.period.count())},
                         {"timeout_ms", static_cast<std::int64_t>(options_.timeout.count())}});
  close_due();
  watch();
}

// Tells every connection whose slot has come to move, then sleeps until the next slot.
void Drain::close_due() {
  if (ended_) return;
  const auto elapsed = Clock::now() - start_;
  for (; next_ < order_.size() && at_[next_] <= elapsed; ++next_) {
    if (auto connection = order_[next_].lock())
      connection->close(protocol::CloseCode::service_restart, nullptr);
    order_[next_].reset();
  }
  if (next_ == order_.size()) return;
  close_timer_.expires_at(start_ + at_[next_]);
  close_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) close_due();
  });
}

void Drain::watch() {
  if (ended_) return;
  if (registry_.size() == 0 && outstanding() == 0) {
    end(DrainEnd::all_gone);
    return;
  }
  const auto now = Clock::now();
  if (now >= deadline_) {
    end(DrainEnd::timeout);
    return;
  }
  watch_timer_.expires_at(std::min(now + kWatchInterval, deadline_));
  watch_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) watch();
  });
}

std::size_t Drain::outstanding() const {
  return options_.outstanding ? options_.outstanding() : 0;
}

void Drain::interrupt() {
  if (running()) end(DrainEnd::signal);
}

void Drain::end(DrainEnd why) {
  ended_ = true;
  close_timer_.cancel();
  watch_timer_.cancel();
  log::info("drained", {{"reason", to_string(why)},
                        {"connections_left", static_cast<std::uint64_t>(registry_.size())},
                        {"told", static_cast<std::uint64_t>(next_)},
                        {"outstanding", static_cast<std::uint64_t>(outstanding())},
                        {"elapsed_ms", ms_since(start_)}});
  if (done_) done_(why);
}

}  // namespace sig::app
