#include "domain/rate_limiter.hpp"

#include <algorithm>

namespace sig::domain {

RateLimiter::RateLimiter(double rate_per_second, double burst, SteadyTime now)
    : rate_(rate_per_second), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

RateLimiter::Verdict RateLimiter::on_message(SteadyTime now) {
  if (rate_ <= 0) return Verdict::accept;
  const std::chrono::duration<double> elapsed = now - last_;
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return Verdict::accept;
  }
  if (dropped_in_window_ == 0 || now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    dropped_in_window_ = 0;
  }
  ++dropped_in_window_;
  if (static_cast<double>(dropped_in_window_) > 4 * burst_) return Verdict::flood;
  if (!warned_ || now - last_warning_ >= std::chrono::seconds(1)) {
    warned_ = true;
    last_warning_ = now;
    return Verdict::drop_and_warn;
  }
  return Verdict::drop;
}

}  // namespace sig::domain
