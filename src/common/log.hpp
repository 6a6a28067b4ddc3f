#pragma once
// Structured logs: one JSON object per line on stdout (or key=value text), through spdlog.
// Never pass a token or the raw query string of /ws/signaling here.
#include <cstdint>
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

void init(std::string_view level, std::string_view format);
bool enabled(Level level);
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

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
