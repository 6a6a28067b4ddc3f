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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

namespace sig::redis {

enum class Errc {
  ok = 0,
  not_connected = 1,  // no ready connection: the command was refused at once (fail fast)
  connection_lost,    // the connection dropped before the reply arrived
  closed,             // close() was called
  timeout,            // connect or reply timeout; the connection was dropped and is retried
  too_many_pending,   // ClientOptions::max_pending commands are already waiting for replies
  server_error,       // Redis answered with an error reply (the Reply holds its text)
  auth_failed,        // AUTH was refused during the connection handshake
  handshake_failed,   // SELECT or PING failed during the handshake (e.g. NOAUTH, LOADING)
  connect_failed,     // name resolution or TCP connect failed
  invalid_url,        // ClientOptions::url does not parse
  invalid_argument,   // empty command, or (P|S)(UN)SUBSCRIBE / MONITOR on a RedisClient
  cancelled,          // a subscription was removed before Redis confirmed it
  // rediss://: a CA, certificate or key file cannot be read or used (returned by start()).
  tls_config,
  // rediss://: the TLS handshake failed (certificate not trusted, name mismatch, client
  // certificate refused...); retried like a failed connect.
  tls_handshake_failed,
};
const std::error_category& redis_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;

}  // namespace sig::redis

template <>
struct std::is_error_code_enum<sig::redis::Errc> : std::true_type {};

namespace sig::redis {

// An owned copy of a RESP2 reply.
struct Reply {
  enum class Type : std::uint8_t { nil, integer, string, status, error, array };

  Type type = Type::nil;
  std::int64_t integer = 0;     // Type::integer
  std::string str;              // Type::string (bulk), Type::status, Type::error
  std::vector<Reply> elements;  // Type::array

  bool is_nil() const noexcept { return type == Type::nil; }
  bool is_integer() const noexcept { return type == Type::integer; }
  bool is_string() const noexcept { return type == Type::string; }
  bool is_status() const noexcept { return type == Type::status; }
  bool is_error() const noexcept { return type == Type::error; }
  bool is_array() const noexcept { return type == Type::array; }

  static Reply nil_reply() { return {}; }
  static Reply integer_reply(std::int64_t v) {
    Reply r;
    r.type = Type::integer;
    r.integer = v;
    return r;
  }
  static Reply string_reply(std::string s, Type t = Type::string) {
    Reply r;
    r.type = t;
    r.str = std::move(s);
    return r;
  }

  friend bool operator==(const Reply& a, const Reply& b) {
    return a.type == b.type && a.integer == b.integer && a.str == b.str && a.elements == b.elements;
  }
};

// Short human-readable form, e.g. `"abc"`, `(integer) 3`, `(nil)`, `["a", (nil)]`.
std::string to_string(const Reply& reply);

// TLS settings, used for rediss:// URLs (ignored, with a warning, for redis://).
struct TlsOptions {
  std::string ca_file;      // PEM CA certificate(s) to trust; empty: the system trust store
  std::string cert_file;    // PEM client certificate (chain) for mutual TLS; needs key_file
  std::string key_file;     // PEM private key of cert_file, unencrypted
  std::string server_name;  // SNI and the name the certificate must match; empty: the URL's host
  // true: no certificate verification at all (neither trust nor name). UNSAFE: anyone on the path
  // can impersonate Redis; logged as such by start(). For throwaway setups only.
  bool insecure_skip_verify = false;

  bool empty() const noexcept {
    return ca_file.empty() && cert_file.empty() && key_file.empty() && server_name.empty();
  }
};

// Checks that the files of options can be read and used (what start() does for rediss://):
// Errc::tls_config, with a one-line reason in why, when not. For start-up checks.
std::error_code check_tls_options(const TlsOptions& options, std::string* why = nullptr);

struct ClientOptions {
  std::string url = "redis://127.0.0.1:6379/0";     // or rediss:// (TLS, see tls)
  std::chrono::milliseconds connect_timeout{2000};  // resolve + TCP connect + AUTH/SELECT/PING
  // A reply awaited longer than this drops the connection (all its pending commands fail with
  // Errc::timeout) and reconnects. 0 disables. hiredis 0.14 has no timeouts of its own.
  std::chrono::milliseconds command_timeout{5000};
  std::chrono::milliseconds reconnect_min{100};   // first retry delay; doubles per failure
  std::chrono::milliseconds reconnect_max{5000};  // cap
  std::size_t max_pending = 100000;               // commands awaiting replies; beyond: Errc::too_many_pending
  std::string name = "redis";                     // prefix of the log lines
  TlsOptions tls;                                 // rediss:// only
};

namespace detail {
class Link;
struct ScriptData;
}  // namespace detail

using Strand = boost::asio::strand<boost::asio::any_io_executor>;
using ReplyCallback = std::function<void(std::error_code, Reply)>;
using StartCallback = std::function<void(std::error_code)>;
using DisconnectCallback = std::function<void(std::error_code)>;
using EventCallback = std::function<void()>;

// A Lua script, identified by its SHA1 (computed locally).
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const noexcept;
  const std::string& sha1() const noexcept;  // 40 lowercase hex digits

 private:
  friend class RedisClient;
  std::shared_ptr<const detail::ScriptData> data_;
};

namespace detail {
inline std::string to_arg(std::string_view s) {
  return std::string(s);
}
template <typename T>
requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>) std::string
    to_arg(T v) {
  return std::to_string(v);
}
}  // namespace detail

class RedisClient {
 public:
  struct Private;
  // Makes a strand over ex. Does not connect: call start().
  static std::shared_ptr<RedisClient> create(const boost::asio::any_io_executor& ex, ClientOptions options);
  RedisClient(Private, const boost::asio::any_io_executor& ex, ClientOptions options);
  ~RedisClient();  // close()
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // State callbacks; set them before start(). on_connected: every time the connection becomes
  // ready (handshake done). on_reconnected: after on_connected, when the link had been ready
  // before and was lost (re-write state here). on_disconnected: a ready link was lost (not
  // called for failed attempts while already down, nor for close()).
  void on_connected(EventCallback cb);
  void on_disconnected(DisconnectCallback cb);
  void on_reconnected(EventCallback cb);

  // Validates the URL (Errc::invalid_url) and, for rediss://, loads the TLS files
  // (Errc::tls_config), returning those errors at once; then starts connecting. on_first_result,
  // if given, gets the outcome of the first attempt (ok or its error); the client keeps retrying
  // in the background after a failure. Call once.
  std::error_code start(StartCallback on_first_result = {});

  // Drops the connection at once (pending commands get Errc::closed), stops reconnecting and
  // releases the callbacks. Idempotent.
  void close();

  bool connected() const noexcept;  // ready right now (any thread; a snapshot)
  Strand executor() const;          // the strand all callbacks run on

  // Sends one command. Arguments are binary-safe and copied before the call returns. The
  // callback always runs exactly once, on the strand. Commands sent from one thread (or from the
  // strand) are written in order and pipelined. RESP2 only: no HELLO 3, no CLIENT REPLY OFF;
  // pub/sub and MONITOR are refused with Errc::invalid_argument (use RedisSubscriber).
  void command(std::span<const std::string_view> args, ReplyCallback cb);
  void command(std::initializer_list<std::string_view> args, ReplyCallback cb);
  // Variadic form; numbers are formatted in decimal: call(cb, "EXPIRE", key, 1800).
  template <typename... Args>
  void call(ReplyCallback cb, const Args&... args) {
    const std::vector<std::string> owned{detail::to_arg(args)...};
    const std::vector<std::string_view> views(owned.begin(), owned.end());
    command(std::span<const std::string_view>(views), std::move(cb));
  }

  // Loads the script on every connection, in the handshake (SCRIPT LOAD before the PING that
  // makes the link ready), so an eval of it never meets NOSCRIPT, not even on the first
  // connection or after Redis restarted empty. Without it, a NOSCRIPT EVALSHA is sent again
  // behind the commands sent after it: out of order. Call before start().
  void preload(const Script& script);

  // EVALSHA sha numkeys keys... args...; on a NOSCRIPT error, SCRIPT LOAD then EVALSHA again
  // (once), transparently.
  void eval(const Script& script, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, ReplyCallback cb);
  void eval(const Script& script, std::initializer_list<std::string_view> keys,
            std::initializer_list<std::string_view> args, ReplyCallback cb);

 private:
  std::shared_ptr<detail::Link> link_;
};

// A connection in subscribe mode. The subscription set is the desired state: it is kept across
// disconnections and restored (SUBSCRIBE / PSUBSCRIBE again) on every reconnect before
// on_connected / on_reconnected fire. Messages published while disconnected are lost (Redis
// pub/sub has no replay): re-read state in on_reconnected.
class RedisSubscriber {
 public:
  struct Private;
  // channel is the channel the message was published to (also for pattern subscriptions).
  using MessageHandler = std::function<void(const std::string& channel, const std::string& message)>;
  // ok once Redis confirmed the subscription; not_connected / connection_lost: it is kept and
  // will be made on the next connection; closed / cancelled: it is gone.
  using DoneCallback = std::function<void(std::error_code)>;

  static std::shared_ptr<RedisSubscriber> create(const boost::asio::any_io_executor& ex,
                                                 ClientOptions options);
  RedisSubscriber(Private, const boost::asio::any_io_executor& ex, ClientOptions options);
  ~RedisSubscriber();  // close()
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  void on_connected(EventCallback cb);
  void on_disconnected(DisconnectCallback cb);
  void on_reconnected(EventCallback cb);
  std::error_code start(StartCallback on_first_result = {});
  void close();
  bool connected() const noexcept;
  Strand executor() const;

  // Subscribing again to the same channel or pattern replaces its handler.
  void subscribe(std::string channel, MessageHandler handler, DoneCallback done = {});
  void psubscribe(std::string pattern, MessageHandler handler, DoneCallback done = {});
  // No message is delivered to the handler after this call has run on the strand.
  void unsubscribe(std::string channel);
  void punsubscribe(std::string pattern);

 private:
  std::shared_ptr<detail::Link> link_;
};

}  // namespace sig::redis
