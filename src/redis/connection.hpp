#pragma once
// Internal to src/redis: the lifecycle of one logical connection to one Redis server — resolve,
// connect (plain: hiredis; rediss://: TLS), the handshake ([AUTH] [SELECT] [SCRIPT LOAD...] PING),
// connect and reply timeouts, reconnection with capped, jittered exponential backoff, and close.
// What flows on a ready connection is the business of the channels built on it:
// CommandChannel (command_channel.cpp: pending replies, pipelining, NOSCRIPT) and
// SubscriptionChannel (subscription_channel.cpp: the desired subscriptions, restored on every
// connection). The cluster layer (cluster_client.cpp, cluster_subscriber.cpp) runs one channel
// per primary on one shared strand.
//
// Everything here runs on the strand; the public members may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "redis/protocol.hpp"
#include "redis/transport.hpp"
#include "redis/types.hpp"
#include "redis/url.hpp"

namespace sig::redis::detail {

struct TlsSettings;
using Clock = std::chrono::steady_clock;

class Connection : public std::enable_shared_from_this<Connection>, protected TransportEvents {
 public:
  struct Traits {
    bool select_db = true;  // SELECT the URL's db in the handshake (not in subscribe mode)
    // Plain TCP with hiredis's reader and our own reply matching (the TLS transport's code, no
    // TLS), instead of hiredis's async context, which cannot route sharded pub/sub pushes.
    bool own_reader = false;
  };

  Connection(Strand strand, ClientOptions options, Traits traits);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() override = default;

  const Strand& strand() const { return strand_; }
  bool ready() const noexcept { return ready_flag_.load(std::memory_order_acquire); }
  const ClientOptions& options() const noexcept { return options_; }

  // Before start(): loaded in every connection's handshake.
  void preload(std::shared_ptr<const ScriptData> script) { preloaded_.push_back(std::move(script)); }
  void set_on_connected(EventCallback cb);
  void set_on_reconnected(EventCallback cb);
  void set_on_disconnected(DisconnectCallback cb);

  // Validates the URL and the TLS files (returned at once), then connects in the background.
  std::error_code start(StartCallback first);
  void close();

 protected:
  enum class State : std::uint8_t { idle, resolving, connecting, ready, waiting, closed };

  // --- for the channels ---------------------------------------------------------------------
  template <typename T>
  std::shared_ptr<T> self_as() {
    return std::static_pointer_cast<T>(shared_from_this());
  }
  template <typename F>
  void post(F&& f) {
    boost::asio::post(strand_, std::forward<F>(f));
  }
  void fail_later(ReplyCallback cb, std::error_code ec);
  // Writes a command expecting a reply; false when refused (p left to the caller).
  bool write_command(std::string_view resp, std::unique_ptr<Pending>& p);
  // Makes the connection ready and fires the callbacks (after the channel's own handshake).
  void announce_ready();
  // We drop the connection ourselves. Never called from inside a transport event.
  void drop_connection(std::error_code why);

  // --- hooks --------------------------------------------------------------------------------
  // The handshake's PING answered: the channel may do more (re-subscribe), then announce_ready().
  virtual void handshake_done() { announce_ready(); }
  // Each tick while ready; false when the channel dropped the connection.
  virtual bool tick_ready(Clock::time_point /*now*/) { return true; }
  // The connection is gone (before on_disconnected and the retry).
  virtual void connection_lost() {}
  // close(): fail what the channel holds.
  virtual void closing() {}
  // A reply to a user command (kind user), on the strand inside the transport: record and post.
  virtual void user_reply(bool current, const redisReply* r, std::unique_ptr<Pending> p);
  void transport_push(Transport& /*t*/, const redisReply* /*r*/) override {}

  Strand strand_;
  ClientOptions options_;
  Traits traits_;
  RedisUrl url_;
  State state_ = State::idle;
  std::atomic<bool> ready_flag_{false};
  std::uint64_t gen_ = 0;                   // attempt number; stale callbacks compare against it
  std::shared_ptr<Transport> conn_;         // the current connection (attempt), if any
  std::error_code free_reason_;             // why conn_ was freed (what its waiting replies get)
  std::deque<Clock::time_point> inflight_;  // send times of the commands awaiting replies

 private:
  void begin_attempt();
  void resolved(const boost::system::error_code& ec,
                const boost::asio::ip::tcp::resolver::results_type& results);
  void connect_to(const boost::asio::ip::address& address);
  template <typename Range>
  void send_internal(Pending::Kind kind, const Range& args);
  void arm_tick();
  void on_tick();
  void attempt_failed(std::error_code why);
  void do_close();
  std::chrono::milliseconds next_backoff();
  std::chrono::milliseconds tick_period() const;
  void handshake_reply(const redisReply* r, const Reply& reply, const Pending& p);

  void transport_reply(Transport& t, const redisReply* r, std::unique_ptr<Pending> p) override;
  void transport_gone(Transport& t, std::error_code why) override;

  std::shared_ptr<const TlsSettings> tls_;  // rediss:// only
  bool ever_ready_ = false;
  bool handshake_error_ = false;                              // this attempt's handshake was refused
  std::shared_ptr<Connection> self_;                          // held while conn_ is set
  std::vector<std::shared_ptr<const ScriptData>> preloaded_;  // set before start()
  Clock::time_point attempt_started_{};
  std::chrono::milliseconds backoff_{};
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer tick_timer_;
  std::optional<boost::asio::ip::tcp::resolver> resolver_;
  std::size_t resolve_rotation_ = 0;
  std::minstd_rand rng_;
  StartCallback first_cb_;
  EventCallback on_connected_;
  EventCallback on_reconnected_;
  DisconnectCallback on_disconnected_;
};

}  // namespace sig::redis::detail
