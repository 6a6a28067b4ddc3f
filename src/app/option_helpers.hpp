#pragma once
// What every block of the configuration (config.cpp, jwt_options.cpp, webhook_options.cpp) uses
// to declare its options the same way: durations with a range, finite numbers.
#include <chrono>
#include <string>

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace sig::app {

// Ranges of the durations (docs: README.md, options table). Each lower bound keeps a timer from
// spinning; each upper bound keeps a value far from any overflow (int64 milliseconds, and the
// browsers' setTimeout, which fires at once past 2^31 ms) and from "forever" by mistake.
struct DurationRange {
  std::chrono::milliseconds min;
  std::chrono::milliseconds max;
};

// "1h", "2m", "15s" or "500ms": the largest exact unit.
std::string show(std::chrono::milliseconds d);

// A duration option: "500ms", "15s", "2m", "1h" or seconds, within range; the help gets the
// default and the range.
void add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                  const std::string& help, const std::string& env, DurationRange range);

// A finite number in [min, max]. CLI11's own Range lets NaN through (every comparison with NaN
// is false): `--rate-limit nan` turned the limit off.
CLI::Validator finite_range(double min, double max);

}  // namespace sig::app
