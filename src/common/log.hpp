#pragma once
// Structured logs: one JSON object per line on stdout (or key=value text), through spdlog.
// The one logger of every module: nothing else writes to spdlog's default logger.
// Never pass a token or the raw query string of /ws/signaling here.
// Messages and field values often hold bytes from clients or Redis: both formats escape every
// control character, so one call is always one line (no forged lines in the log).
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sig::log {

enum class Level { trace, debug, info, warn, error };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), text(v) {}
  Field(std::string_view k, const std::string& v) : key(k), text(v) {}
  Field(std::string_view k, const char* v) : key(k), text(v) {}
  Field(std::string_view k, std::int64_t v) : key(k), text(std::to_string(v)), number(true) {}
  Field(std::string_view k, std::uint64_t v) : key(k), text(std::to_string(v)), number(true) {}
  Field(std::string_view k, int v) : key(k), text(std::to_string(v)), number(true) {}
  Field(std::string_view k, unsigned v) : key(k), text(std::to_string(v)), number(true) {}
  Field(std::string_view k, bool v) : key(k), text(v ? "true" : "false"), number(true) {}
  std::string_view key;
  std::string text;
  bool number = false;
};

// level: trace, debug, info (anything else), warn, error, off; format: "text", or JSON otherwise.
void init(std::string_view level, std::string_view format);
bool enabled(Level level);
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

// The line as written, without its newline. Exposed for the unit tests.
std::string format_line(Level level, std::string_view message, std::initializer_list<Field> fields,
                        bool json);

// Tests: every line goes to sink instead of stdout (an empty function restores stdout). The sink
// is called under a lock, one line at a time.
using Sink = std::function<void(std::string_view line)>;
void set_sink(Sink sink);

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}

}  // namespace sig::log
