#include "webhook/backoff.hpp"

#include <algorithm>
#include <cstdint>

namespace sig::webhook {

std::chrono::milliseconds backoff_delay(unsigned retry, std::chrono::milliseconds min,
                                        std::chrono::milliseconds max, double random01) {
  using std::chrono::milliseconds;
  if (max < min) max = min;
  // min * 2^(retry-1) without overflow: stop doubling once past max.
  milliseconds cap = min;
  for (unsigned i = 1; i < retry && cap < max; ++i)
    cap = cap.count() > max.count() / 2 ? max : cap * 2;
  cap = std::min(cap, max);
  const double r = std::clamp(random01, 0.0, 1.0);
  const auto span = static_cast<double>((cap - min).count());
  return min + milliseconds(static_cast<milliseconds::rep>(span * r));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  if (value.empty() || value.size() > 9) return std::nullopt;
  std::int64_t seconds = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::milliseconds(seconds * 1000);
}

Verdict classify(std::error_code ec, unsigned status) noexcept {
  if (ec) return Verdict::retry;
  if (status >= 200 && status < 300) return Verdict::delivered;
  if (status >= 500 || status == 408 || status == 429) return Verdict::retry;
  return Verdict::reject;
}

}  // namespace sig::webhook
