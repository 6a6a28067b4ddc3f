#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "common/json_text.hpp"
#include "common/time.hpp"

namespace sig::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{true};

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = spdlog::stdout_logger_mt("signaling");
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);  // tests and supervisors read the lines as they come
    return l;
  }();
  return instance;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

}  // namespace

void init(std::string_view level, std::string_view format) {
  int l = static_cast<int>(Level::info);
  if (level == "trace") l = static_cast<int>(Level::trace);
  if (level == "debug") l = static_cast<int>(Level::debug);
  if (level == "warn") l = static_cast<int>(Level::warn);
  if (level == "error") l = static_cast<int>(Level::error);
  if (level == "off") l = static_cast<int>(Level::error) + 1;
  g_level = l;
  g_json = format != "text";
  (void)logger();
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128);
  const auto now = format_iso8601(std::chrono::system_clock::now());
  if (g_json) {
    line += R"({"time":")";
    line += now;
    line += R"(","level":")";
    line += level_name(level);
    line += R"(","msg":)";
    append_json_string(line, message);
    for (const auto& f : fields) {
      line.push_back(',');
      append_json_string(line, f.key);
      line.push_back(':');
      if (f.number) {
        line += f.text;
      } else {
        append_json_string(line, f.text);
      }
    }
    line.push_back('}');
  } else {
    line += now;
    line.push_back(' ');
    line += level_name(level);
    line.push_back(' ');
    line += message;
    for (const auto& f : fields) {
      line.push_back(' ');
      line += f.key;
      line.push_back('=');
      line += f.text;
    }
  }
  logger()->log(spdlog::level::info, "{}", line);
}

}  // namespace sig::log
