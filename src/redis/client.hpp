#pragma once
// Asynchronous Redis client on hiredis 0.14 and Boost.Asio.
//
// - RedisClient: commands (pipelined), EVALSHA scripts with SCRIPT LOAD fallback.
// - RedisSubscriber: a separate connection for SUBSCRIBE / PSUBSCRIBE.
// Both connect to redis[s]://[[user]:password@]host[:port][/db], send AUTH (and SELECT for the
// client) on every connection, reconnect by themselves with capped exponential backoff, and
// fail commands at once while disconnected. See docs/redis-client.md.
//
// Threading: each object runs on its own strand made over the executor given to create(). Every
// callback (replies, messages, state changes) runs on that strand, never inline in the call that
// registered it. The public member functions may be called from any thread.
//
// Errors: std::error_code, never exceptions. A Redis error reply gives Errc::server_error with
// the reply (type error, its text) still passed to the callback.
//
// TLS: rediss:// connects with TLS (Boost.Asio ssl::stream, OpenSSL; hiredis 0.14 has no TLS, so
// only its reply parser is used there), configured by ClientOptions::tls: the certificate is
// verified against the system trust store or TlsOptions::ca_file, and must match the URL's host
// (or TlsOptions::server_name). redis:// runs on hiredis's own async connection.
//
// Lifetime: close() (or dropping the last shared_ptr, which calls it) frees the connection on
// the strand; pending callbacks then get Errc::closed. Let the executor run after close() until
// the work drains, and destroy clients before their io_context.
//
// hiredis 0.14 writes with write(2): start() sets SIGPIPE to SIG_IGN if it is at SIG_DFL.

#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>

#include "redis/channels.hpp"
#include "redis/types.hpp"

namespace sig::redis {

class RedisClient : public Commands {
 public:
  struct Private;
  // Makes a strand over ex. Does not connect: call start().
  static std::shared_ptr<RedisClient> create(const boost::asio::any_io_executor& ex, ClientOptions options);
  RedisClient(Private, const boost::asio::any_io_executor& ex, ClientOptions options);
  ~RedisClient() override;  // close()
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // State callbacks; set them before start(). on_connected: every time the connection becomes
  // ready (handshake done). on_reconnected: after on_connected, when the link had been ready
  // before and was lost (re-write state here). on_disconnected: a ready link was lost (not
  // called for failed attempts while already down, nor for close()).
  void on_connected(EventCallback cb) override;
  void on_disconnected(DisconnectCallback cb) override;
  void on_reconnected(EventCallback cb) override;

  // Validates the URL (Errc::invalid_url) and, for rediss://, loads the TLS files
  // (Errc::tls_config), returning those errors at once; then starts connecting. on_first_result,
  // if given, gets the outcome of the first attempt (ok or its error); the client keeps retrying
  // in the background after a failure. Call once.
  std::error_code start(StartCallback on_first_result = {}) override;

  // Drops the connection at once (pending commands get Errc::closed), stops reconnecting and
  // releases the callbacks. Idempotent.
  void close() override;

  bool connected() const noexcept override;  // ready right now (any thread; a snapshot)
  Strand executor() const override;          // the strand all callbacks run on

  // Sends one command. Arguments are binary-safe and copied before the call returns. The
  // callback always runs exactly once, on the strand. Commands sent from one thread (or from the
  // strand) are written in order and pipelined. RESP2 only: no HELLO 3, no CLIENT REPLY OFF;
  // pub/sub and MONITOR are refused with Errc::invalid_argument (use RedisSubscriber).
  // The initializer_list form and call(cb, "EXPIRE", key, 1800) come from Commands.
  void command(std::span<const std::string_view> args, ReplyCallback cb) override;
  using Commands::call;
  using Commands::command;

  // Loads the script on every connection, in the handshake (SCRIPT LOAD before the PING that
  // makes the link ready), so an eval of it never meets NOSCRIPT, not even on the first
  // connection or after Redis restarted empty. Without it, a NOSCRIPT EVALSHA is sent again
  // behind the commands sent after it: out of order. Call before start().
  void preload(const Script& script) override;

  // EVALSHA sha numkeys keys... args...; on a NOSCRIPT error, SCRIPT LOAD then EVALSHA again
  // (once), transparently.
  void eval(const Script& script, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, ReplyCallback cb) override;
  using Commands::eval;

 private:
  std::shared_ptr<detail::CommandChannel> link_;
};

// A connection in subscribe mode. The subscription set is the desired state: it is kept across
// disconnections and restored (SUBSCRIBE / PSUBSCRIBE again) on every reconnect before
// on_connected / on_reconnected fire. Messages published while disconnected are lost (Redis
// pub/sub has no replay): re-read state in on_reconnected.
class RedisSubscriber : public Subscriptions {
 public:
  struct Private;
  // channel is the channel the message was published to (also for pattern subscriptions).
  // (Subscriptions::MessageHandler.) DoneCallback: ok once Redis confirmed the subscription;
  // not_connected / connection_lost: it is kept and will be made on the next connection;
  // closed / cancelled: it is gone.
  using Subscriptions::DoneCallback;
  using Subscriptions::MessageHandler;

  static std::shared_ptr<RedisSubscriber> create(const boost::asio::any_io_executor& ex,
                                                 ClientOptions options);
  RedisSubscriber(Private, const boost::asio::any_io_executor& ex, ClientOptions options);
  ~RedisSubscriber() override;  // close()
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  void on_connected(EventCallback cb) override;
  void on_disconnected(DisconnectCallback cb) override;
  void on_reconnected(EventCallback cb) override;
  std::error_code start(StartCallback on_first_result = {}) override;
  void close() override;
  bool connected() const noexcept override;
  Strand executor() const override;

  // Subscribing again to the same channel or pattern replaces its handler.
  void subscribe(std::string channel, MessageHandler handler, DoneCallback done = {}) override;
  void psubscribe(std::string pattern, MessageHandler handler, DoneCallback done = {});
  // No message is delivered to the handler after this call has run on the strand.
  void unsubscribe(std::string channel) override;
  void punsubscribe(std::string pattern);

 private:
  std::shared_ptr<detail::SubscriptionChannel> link_;
};

}  // namespace sig::redis
