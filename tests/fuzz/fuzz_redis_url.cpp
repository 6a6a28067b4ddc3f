// Fuzz target: any text given as --redis parses to a RedisUrl or to an error with a reason, never
// a crash; and an accepted URL, written back with to_string(true), parses to the same settings
// (the form the logs show is the form an operator can paste back).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "redis/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto url = sig::redis::parse_redis_url(input, &error);
  if (!url) {
    if (error.empty()) std::abort();  // every refusal says why
    return 0;
  }
  if (url->host.empty() || url->port == 0) std::abort();

  const std::string written = url->to_string(true);
  std::string again_error;
  const auto again = sig::redis::parse_redis_url(written, &again_error);
  if (!again) std::abort();
  if (again->host != url->host || again->port != url->port || again->db != url->db ||
      again->username != url->username || again->password != url->password || again->tls != url->tls) {
    std::abort();
  }
  // The form for the logs never shows the password.
  if (!url->password.empty() && url->to_string(false).find(":***@") == std::string::npos) std::abort();
  return 0;
}
