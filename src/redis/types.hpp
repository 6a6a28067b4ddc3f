#pragma once
// Types shared by every Redis client of src/redis (errors, replies, options, scripts). The
// clients themselves: client.hpp (one server) and channels.hpp (the interfaces, and cluster mode).
//
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
class CommandChannel;
class SubscriptionChannel;
struct ScriptData;
struct ScriptAccess;
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
  friend struct detail::ScriptAccess;
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

}  // namespace sig::redis
