#include "app/option_helpers.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>

#include "common/duration.hpp"

namespace sig::app {

using std::chrono::milliseconds;

std::string show(milliseconds d) {
  const auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

void add_duration(CLI::App& app, const std::string& name, milliseconds& target, const std::string& help,
                  const std::string& env, DurationRange range) {
  app.add_option_function<std::string>(
         name,
         [&target, name, range](const std::string& text) {
           const auto d = parse_duration(text);
           if (!d) throw CLI::ValidationError(name, "expected a duration such as 500ms, 15s, 2m or 1h");
           if (*d < range.min || *d > range.max) {
             throw CLI::ValidationError(name, "must be between " + show(range.min) + " and " +
                                                  show(range.max) + " (got " + text + ")");
           }
           target = *d;
         },
         help + " (default " + show(target) + ", " + show(range.min) + ".." + show(range.max) + ")")
      ->envname(env);
}

CLI::Validator finite_range(double min, double max) {
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return {[min, max, range](std::string& text) -> std::string {
            double value = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (ec != std::errc{} || end != text.data() + text.size()) return "not a number: " + text;
            if (!std::isfinite(value)) return "must be a finite number (got " + text + ")";
            if (value < min || value > max) return "must be in " + range + " (got " + text + ")";
            return {};
          },
          "NUMBER in " + range};
}

}  // namespace sig::app
