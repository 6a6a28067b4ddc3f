#pragma once
// A token bucket per connection: `rate` messages a second, bursts of `burst`. Not thread-safe:
// each connection uses its own from its own strand.
#include <cstdint>

#include "domain/clock.hpp"

namespace sig::domain {

class RateLimiter {
 public:
  enum class Verdict { accept, drop, drop_and_warn, flood };

  RateLimiter(double rate_per_second, double burst, SteadyTime now);

  // accept: go on. drop: refuse silently (already warned within the last second).
  // drop_and_warn: refuse and tell the client. flood: more than 4 x burst refused within one
  // second: close the connection.
  Verdict on_message(SteadyTime now);
  bool enabled() const noexcept { return rate_ > 0; }

 private:
  double rate_;
  double burst_;
  double tokens_;
  SteadyTime last_;
  SteadyTime last_warning_{};
  bool warned_ = false;
  SteadyTime window_start_{};
  std::uint64_t dropped_in_window_ = 0;
};

}  // namespace sig::domain
