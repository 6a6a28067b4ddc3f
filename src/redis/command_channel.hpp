#pragma once
// Internal to src/redis: the command channel — a Connection whose commands are pipelined in
// write order, each matched to its callback; at most ClientOptions::max_pending await replies;
// an EVALSHA answered NOSCRIPT is retried once after SCRIPT LOAD. RedisClient is its facade; the
// cluster client runs one per primary.

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "redis/connection.hpp"

namespace sig::redis::detail {

class CommandChannel final : public Connection {
 public:
  CommandChannel(Strand strand, ClientOptions options)
      : Connection(std::move(strand), std::move(options), Traits{}) {}

  // From any thread: dispatched to the strand.
  void send(std::string resp, std::unique_ptr<Pending> p);
  // On the strand: writes now or fails the callback (posted) with not_connected, closed or
  // too_many_pending.
  void send_now(const std::string& resp, std::unique_ptr<Pending> p);

 private:
  void user_reply(bool current, const redisReply* r, std::unique_ptr<Pending> p) override;
};

// A user command (p->cb set by the caller).
std::unique_ptr<Pending> make_command(ReplyCallback cb);
// EVALSHA sha numkeys keys... args..., ready for a NOSCRIPT retry; resp gets the request.
std::unique_ptr<Pending> make_eval(const Script& script, std::span<const std::string_view> keys,
                                   std::span<const std::string_view> args, ReplyCallback cb,
                                   std::string& resp);

}  // namespace sig::redis::detail
