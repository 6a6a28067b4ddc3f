// Fuzz target: the durations of the command line and the config file ("500ms", "15s", "2m",
// "1h", "1.5s", "30") parse to a bounded, non-negative number of milliseconds or to nothing,
// never a crash or an overflow; an accepted value written back in milliseconds parses to itself.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/duration.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto d = sig::parse_duration(input);
  if (!d) return 0;
  const auto ms = d->count();
  if (ms < 0 || ms > 1'000'000'000'000'000) std::abort();  // parse_duration's own bound: 1e15 ms

  const auto again = sig::parse_duration(std::to_string(ms) + "ms");
  if (!again || *again != *d) std::abort();
  // The units agree with each other: "<n>s" is n thousand milliseconds.
  if (ms % 1000 == 0) {
    const auto seconds = sig::parse_duration(std::to_string(ms / 1000) + "s");
    if (!seconds || *seconds != *d) std::abort();
  }
  return 0;
}
