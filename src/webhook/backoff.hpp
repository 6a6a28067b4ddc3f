#pragma once
// When to try a delivery again, and whether to (pure: the dispatcher passes the random draw).
#include <chrono>
#include <optional>
#include <string_view>
#include <system_error>

namespace sig::webhook {

// The wait before retry number `retry` (1 for the first retry): exponential growth capped at max,
// with full jitter above the floor: uniform in [min, min(max, min * 2^(retry-1))]. `random01` is
// a draw in [0, 1). The floor keeps a receiver that answers 500 at once from being hammered.
std::chrono::milliseconds backoff_delay(unsigned retry, std::chrono::milliseconds min,
                                        std::chrono::milliseconds max, double random01);

// Retry-After (RFC 9110 10.2.3) in its delay-seconds form; an HTTP date is ignored (nullopt).
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

enum class Verdict {
  delivered,  // 2xx
  retry,      // connection error, timeout, TLS error, 5xx, 408, 429
  reject,     // any other status (4xx, redirects: not followed): retrying would not change it
};

Verdict classify(std::error_code ec, unsigned status) noexcept;

}  // namespace sig::webhook
