#pragma once
// The domain's only source of time. The server passes the system clocks; tests pass a
// ManualClock they move by hand.
#include <atomic>
#include <chrono>

namespace sig::domain {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;     // for timeouts
  virtual WallTime wall_now() const = 0;  // for timestamps shown to people
};

class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
};

class ManualClock final : public Clock {
 public:
  ManualClock()
      : steady_(0),
        wall_(std::chrono::system_clock::time_point{std::chrono::seconds{1'790'000'000}}
                  .time_since_epoch()
                  .count()) {}
  SteadyTime now() const override { return SteadyTime(SteadyTime::duration(steady_.load())); }
  WallTime wall_now() const override { return WallTime(WallTime::duration(wall_.load())); }
  void advance(std::chrono::nanoseconds d) {
    steady_ += std::chrono::duration_cast<SteadyTime::duration>(d).count();
    wall_ += std::chrono::duration_cast<WallTime::duration>(d).count();
  }

 private:
  std::atomic<SteadyTime::rep> steady_;
  std::atomic<WallTime::rep> wall_;
};

}  // namespace sig::domain
