#pragma once
// Internal to src/redis: what the connection, the command channel, the subscription channel and
// the cluster layer share (RESP formatting, reply conversion, script data, small process-wide
// settings).

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "redis/types.hpp"

struct redisReply;  // hiredis

namespace sig::redis::detail {

struct ScriptData {
  std::string source;
  std::string sha1;
};
struct ScriptAccess {
  static const std::shared_ptr<const ScriptData>& data(const Script& s) noexcept { return s.data_; }
};

// An owned copy of a hiredis reply (r not null).
Reply convert_reply(const redisReply* r);

// RESP2 multi-bulk request.
template <typename Range>
std::string format_command(const Range& args) {
  std::size_t size = 16;
  for (const auto& a : args)
    size += std::string_view(a).size() + 16;
  std::string out;
  out.reserve(size);
  std::array<char, 24> num{};
  auto append_number = [&](char prefix, std::size_t n) {
    out.push_back(prefix);
    const auto res = std::to_chars(num.data(), num.data() + num.size(), n);
    out.append(num.data(), res.ptr);
    out += "\r\n";
  };
  append_number('*', static_cast<std::size_t>(std::distance(std::begin(args), std::end(args))));
  for (const auto& a : args) {
    const std::string_view v(a);
    append_number('$', v.size());
    out.append(v);
    out += "\r\n";
  }
  return out;
}

// Commands that switch the connection into a push mode hiredis 0.14 would mis-route on a
// command connection (replies matched to the wrong callbacks, or an assertion): use
// RedisSubscriber for pub/sub. (The TLS transport matches replies the same way.)
bool is_forbidden_on_command_link(std::string_view name);

// hiredis 0.14 writes with write(2): SIGPIPE to SIG_IGN if it is at SIG_DFL (once).
void ignore_sigpipe_once();

}  // namespace sig::redis::detail
