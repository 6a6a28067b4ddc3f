#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "common/json_text.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"

namespace sig::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{true};

std::mutex g_sink_mu;
Sink g_sink;  // guarded by g_sink_mu
std::atomic<bool> g_has_sink{false};

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

// JSON format: a byte that is not part of well-formed UTF-8 becomes U+FFFD (a JSON text must be
// UTF-8, and log shippers refuse or mangle lines that are not).
void append_json_value(std::string& out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8::sequence_length(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) {
    append_json_string(out, s);
    return;
  }
  std::string fixed(s.substr(0, i));
  while (i < s.size()) {
    const std::size_t n = utf8::sequence_length(s, i);
    if (n == 0) {
      fixed += "\xEF\xBF\xBD";
      ++i;
    } else {
      fixed.append(s.substr(i, n));
      i += n;
    }
  }
  append_json_string(out, fixed);
}

// Text format: what a client sends must not start a new line or move the cursor, nor be taken
// for a key=value pair that is not there. Every control byte (below 0x20, and 0x7f) becomes \n,
// \r, \t or \xHH; a backslash is doubled so that an escape in the input reads as such. With
// quoted, a value is written "…" (with \" inside) when it would otherwise be ambiguous: empty,
// or holding a space, '=' or '"'. A byte that is not part of well-formed UTF-8 is written \xHH.
void append_text(std::string& out, std::string_view s, bool quoted) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool quote = quoted && (s.empty() || s.find_first_of(" =\"") != std::string_view::npos);
  if (quote) out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const std::size_t n = utf8::sequence_length(s, i);
      if (n == 0) {
        out += "\\x";
        out.push_back(kHex[u >> 4U]);
        out.push_back(kHex[u & 0xFU]);
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '"':
        if (quote) out.push_back('\\');
        out.push_back(c);
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\x";
          out.push_back(kHex[u >> 4U]);
          out.push_back(kHex[u & 0xFU]);
        } else {
          out.push_back(c);
        }
    }
  }
  if (quote) out.push_back('"');
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

std::string format_line(Level level, std::string_view message, std::initializer_list<Field> fields,
                        bool json) {
  std::string line;
  line.reserve(128);
  const auto now = format_iso8601(std::chrono::system_clock::now());
  if (json) {
    line += R"({"time":")";
    line += now;
    line += R"(","level":")";
    line += level_name(level);
    line += R"(","msg":)";
    append_json_value(line, message);
    for (const auto& f : fields) {
      line.push_back(',');
      append_json_value(line, f.key);
      line.push_back(':');
      if (f.number) {
        line += f.text;
      } else {
        append_json_value(line, f.text);
      }
    }
    line.push_back('}');
  } else {
    line += now;
    line.push_back(' ');
    line += level_name(level);
    line.push_back(' ');
    append_text(line, message, false);
    for (const auto& f : fields) {
      line.push_back(' ');
      append_text(line, f.key, false);
      line.push_back('=');
      append_text(line, f.text, !f.number);
    }
  }
  return line;
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  const std::string line = format_line(level, message, fields, g_json.load(std::memory_order_relaxed));
  if (g_has_sink.load(std::memory_order_acquire)) {
    const std::lock_guard lock(g_sink_mu);
    if (g_sink) {
      g_sink(line);
      return;
    }
  }
  logger()->log(spdlog::level::info, "{}", line);
}

void set_sink(Sink sink) {
  const std::lock_guard lock(g_sink_mu);
  g_sink = std::move(sink);
  g_has_sink.store(static_cast<bool>(g_sink), std::memory_order_release);
}

}  // namespace sig::log
