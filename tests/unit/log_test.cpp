#include "common/log.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/json_text.hpp"
#include "redis/client.hpp"

namespace sig::log {
namespace {

// Captures every line written while it lives; restores stdout and the default level after.
class Capture {
 public:
  Capture() {
    set_sink([this](std::string_view line) {
      const std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~Capture() {
    set_sink({});
    init("info", "json");
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  std::vector<std::string> lines() const {
    const std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// Every byte that can move a terminal's cursor or end a line.
std::string all_control_bytes() {
  std::string s;
  for (int c = 0; c < 0x20; ++c)
    s.push_back(static_cast<char>(c));
  s.push_back('\x7f');
  return s;
}

TEST(Log, JsonEscapesEveryControlByte) {
  const std::string evil = "a" + all_control_bytes() + "\\\"z";
  const auto line = format_line(Level::warn, "msg\n" + evil, {{"key\n", evil}, {"n", 7}}, true);
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u != 0x7f) << "raw control byte " << static_cast<int>(u);
  }
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "msg\n" + evil);
  EXPECT_EQ(j["key\n"], evil);
  EXPECT_EQ(j["n"], 7);
}

TEST(Log, JsonTextEscapesDel) {
  EXPECT_EQ(json_string("\x7f"), R"("\u007f")");
}

TEST(Log, TextEscapesControlBytesInMessageKeysAndValues) {
  const auto line = format_line(Level::info, "bad\nmsg\r", {{"k\tey", "v\nfake=1\x1b[31m\x7f"}}, false);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_EQ(line.find('\x7f'), std::string::npos);
  // The value holds '=': quoted, so "fake=1" cannot pass for a field of its own.
  EXPECT_NE(line.find(R"( info bad\nmsg\r k\tey="v\nfake=1\x1b[31m\x7f")"), std::string::npos) << line;
}

TEST(Log, TextEscapesBackslashAndQuotes) {
  // An input that already looks like an escape stays distinguishable from a real control byte.
  const auto line = format_line(Level::info, "m", {{"a", R"(x\ny)"}, {"b", R"(say "hi")"}, {"c", ""}}, false);
  EXPECT_NE(line.find(R"( a=x\\ny b="say \"hi\"" c="")"), std::string::npos) << line;
}

TEST(Log, TextNumbersAndPlainValuesAreBare) {
  const auto line = format_line(Level::error, "m", {{"n", 42}, {"ok", true}, {"s", "plain"}}, false);
  EXPECT_NE(line.find(" error m n=42 ok=true s=plain"), std::string::npos) << line;
}

TEST(Log, JsonLinesStayValidUtf8) {
  // nlohmann refuses a text that is not UTF-8: the line parses, bad bytes became U+FFFD.
  const auto line =
      format_line(Level::warn, "m\xff", {{"v", "caf\xc3\xa9 \xc0\xaf \xed\xa0\x80 \xe2\x82"}}, true);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["msg"], "m\xef\xbf\xbd");
  EXPECT_EQ(
      j["v"],
      "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
}

TEST(Log, TextWritesBytesThatAreNotUtf8AsHex) {
  const auto line = format_line(Level::info, "m", {{"v", "caf\xc3\xa9\xff\xf0\x9f\x98\x80\xf0\x9f"}}, false);
  EXPECT_NE(line.find(" v=caf\xc3\xa9\\xff\xf0\x9f\x98\x80\\xf0\\x9f"), std::string::npos) << line;
}

TEST(Log, LevelIsHonoured) {
  Capture capture;
  init("warn", "json");
  info("dropped");
  warn("kept");
  ASSERT_EQ(capture.lines().size(), 1U);
  EXPECT_EQ(nlohmann::json::parse(capture.lines()[0])["msg"], "kept");
  init("off", "json");
  error("dropped too");
  EXPECT_EQ(capture.lines().size(), 1U);
}

TEST(Log, TextFormatWritesOneLinePerCall) {
  Capture capture;
  init("info", "text");
  info("joined", {{"user", "alice\n2026-01-01T00:00:00Z error forged line"}});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  EXPECT_NE(lines[0].find(R"(user="alice\n2026)"), std::string::npos) << lines[0];
}

// The Redis module logs through this logger: JSON, at the level chosen, with its fields.
TEST(Log, RedisModuleLinesAreJsonAtTheChosenLevel) {
  boost::asio::io_context ioc;
  {
    Capture capture;
    init("error", "json");
    redis::ClientOptions options;
    options.url = "redis://127.0.0.1:1/0";
    options.name = "redis-test";
    options.tls.server_name = "ignored";  // a warning: not a rediss:// URL; below --log-level error
    auto client = redis::RedisClient::create(ioc.get_executor(), options);
    EXPECT_FALSE(client->start());
    client->close();
    ioc.poll();  // the start and the close, in order: nothing connects
    EXPECT_TRUE(capture.lines().empty());

    options.url = "http://nope\n";
    auto bad = redis::RedisClient::create(ioc.get_executor(), options);
    EXPECT_EQ(bad->start(), redis::Errc::invalid_url);
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1U);
    const auto j = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(j["level"], "error");
    EXPECT_EQ(j["msg"], "invalid redis url");
    EXPECT_EQ(j["client"], "redis-test");
    EXPECT_TRUE(j.contains("error"));
  }
  {
    Capture capture;
    init("warn", "json");
    redis::ClientOptions options;
    options.url = "redis://127.0.0.1:1/0";
    options.name = "redis-test";
    options.tls.server_name = "ignored";
    auto client = redis::RedisClient::create(ioc.get_executor(), options);
    EXPECT_FALSE(client->start());
    client->close();
    ioc.poll();  // the start and the close, in order: nothing connects
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1U);
    const auto j = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(j["level"], "warn");
    EXPECT_EQ(j["msg"], "redis tls options ignored: not a rediss:// url");
  }
}

}  // namespace
}  // namespace sig::log
