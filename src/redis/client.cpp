#include "redis/client.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <utility>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.hpp"
#include "redis/hiredis_transport.hpp"
#include "redis/tls_transport.hpp"
#include "redis/transport.hpp"
#include "redis/url.hpp"

namespace sig::redis {

// ---------------------------------------------------------------------------------------------
// Errors

namespace {

class RedisCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "ok";
      case Errc::not_connected: return "not connected to Redis";
      case Errc::connection_lost: return "connection to Redis lost";
      case Errc::closed: return "Redis client closed";
      case Errc::timeout: return "Redis timeout";
      case Errc::too_many_pending: return "too many pending Redis commands";
      case Errc::server_error: return "Redis error reply";
      case Errc::auth_failed: return "Redis AUTH failed";
      case Errc::handshake_failed: return "Redis connection handshake failed";
      case Errc::connect_failed: return "cannot connect to Redis";
      case Errc::invalid_url: return "invalid Redis URL";
      case Errc::invalid_argument: return "invalid Redis command";
      case Errc::cancelled: return "Redis subscription cancelled";
      case Errc::tls_config: return "unusable TLS configuration for Redis (CA, certificate or key file)";
      case Errc::tls_handshake_failed: return "TLS handshake with Redis failed";
    }
    return "unknown Redis error";
  }
};

}  // namespace

const std::error_category& redis_category() noexcept {
  static const RedisCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

// ---------------------------------------------------------------------------------------------
// Reply

namespace {

Reply convert_reply(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(r->element[i] != nullptr ? convert_reply(r->element[i]) : Reply{});
      }
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

void append_escaped(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4U]);
      out.push_back(kHex[u & 0x0FU]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void append_reply(std::string& out, const Reply& r) {
  switch (r.type) {
    case Reply::Type::nil: out += "(nil)"; break;
    case Reply::Type::integer: out += "(integer) " + std::to_string(r.integer); break;
    case Reply::Type::string: append_escaped(out, r.str); break;
    case Reply::Type::status: out += r.str; break;
    case Reply::Type::error: out += "(error) " + r.str; break;
    case Reply::Type::array:
      out.push_back('[');
      for (std::size_t i = 0; i < r.elements.size(); ++i) {
        if (i != 0) out += ", ";
        append_reply(out, r.elements[i]);
      }
      out.push_back(']');
      break;
  }
}

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
bool is_forbidden_on_command_link(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kForbidden{
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor"};
  if (name.size() > 12) return false;
  std::array<char, 12> lower{};
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view l(lower.data(), name.size());
  return std::find(kForbidden.begin(), kForbidden.end(), l) != kForbidden.end();
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

}  // namespace

std::string to_string(const Reply& reply) {
  std::string out;
  append_reply(out, reply);
  return out;
}

std::error_code check_tls_options(const TlsOptions& options, std::string* why) {
  detail::TlsSettings settings;
  std::string reason;
  // The name only matters once connected: any non-empty placeholder will do here.
  const auto ec = detail::make_tls_settings(options, "localhost", settings, reason);
  if (ec && why != nullptr) *why = std::move(reason);
  return ec;
}

// ---------------------------------------------------------------------------------------------
// Script

namespace detail {
struct ScriptData {
  std::string source;
  std::string sha1;
};
}  // namespace detail

Script::Script(std::string source) {
  auto data = std::make_shared<detail::ScriptData>();
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(source.data(), source.size(), md.data(), &md_len, EVP_sha1(), nullptr) != 1) md_len = 0;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < md_len; ++i) {
    data->sha1.push_back(kHex[md[i] >> 4U]);
    data->sha1.push_back(kHex[md[i] & 0x0FU]);
  }
  data->source = std::move(source);
  data_ = std::move(data);
}

const std::string& Script::source() const noexcept {
  return data_->source;
}
const std::string& Script::sha1() const noexcept {
  return data_->sha1;
}

// ---------------------------------------------------------------------------------------------
// Link: one logical connection (reconnecting), shared by RedisClient and RedisSubscriber.

namespace detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

class Link : public std::enable_shared_from_this<Link>, private TransportEvents {
 public:
  enum class Mode { command, subscriber };
  using MessageHandler = RedisSubscriber::MessageHandler;
  using DoneCallback = RedisSubscriber::DoneCallback;

  Link(const asio::any_io_executor& ex, ClientOptions options, Mode mode)
      : strand_(asio::make_strand(ex)),
        options_(std::move(options)),
        mode_(mode),
        retry_timer_(strand_),
        tick_timer_(strand_),
        rng_(std::random_device{}()) {
    if (options_.reconnect_min.count() <= 0) options_.reconnect_min = std::chrono::milliseconds(1);
    if (options_.reconnect_max < options_.reconnect_min) options_.reconnect_max = options_.reconnect_min;
    backoff_ = options_.reconnect_min;
    if (mode_ == Mode::subscriber) {
      static std::atomic<std::uint64_t> counter{0};
      health_channel_ =
          "__sig_redis_health__:" + std::to_string(::getpid()) + ":" + std::to_string(++counter);
    }
  }

  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link() override = default;

  const Strand& strand() const { return strand_; }
  bool ready() const noexcept { return ready_flag_.load(std::memory_order_acquire); }

  // --- configuration (before start) -----------------------------------------------------------

  // Before start(): loaded in every connection's handshake.
  void preload(std::shared_ptr<const ScriptData> script) { preloaded_.push_back(std::move(script)); }
  void set_on_connected(EventCallback cb) {
    asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
      if (self->state_ != State::closed) self->on_connected_ = std::move(cb);
    });
  }
  void set_on_reconnected(EventCallback cb) {
    asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
      if (self->state_ != State::closed) self->on_reconnected_ = std::move(cb);
    });
  }
  void set_on_disconnected(DisconnectCallback cb) {
    asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
      if (self->state_ != State::closed) self->on_disconnected_ = std::move(cb);
    });
  }

  std::error_code start(StartCallback first) {
    std::string why;
    auto url = parse_redis_url(options_.url, &why);
    if (!url) {
      log::error("invalid redis url", {{"client", options_.name}, {"error", why}});
      return Errc::invalid_url;
    }
    std::shared_ptr<const TlsSettings> tls;
    if (url->tls) {
      auto settings = std::make_shared<TlsSettings>();
      if (const auto ec = make_tls_settings(options_.tls, url->host, *settings, why); ec) {
        log::error("redis tls settings refused",
                   {{"client", options_.name}, {"url", url->to_string()}, {"error", why}});
        return ec;
      }
      if (!settings->verify) {
        log::warn(
            "redis tls certificate verification is OFF: UNSAFE, anyone on the path can impersonate Redis",
            {{"client", options_.name}, {"url", url->to_string()}});
      }
      tls = std::move(settings);
    } else if (!options_.tls.empty()) {
      log::warn("redis tls options ignored: not a rediss:// url",
                {{"client", options_.name}, {"url", url->to_string()}});
    }
    ignore_sigpipe_once();
    asio::dispatch(strand_, [self = shared_from_this(), url = std::move(*url), tls = std::move(tls),
                             first = std::move(first)]() mutable {
      if (self->state_ != State::idle) {
        if (first) asio::post(self->strand_, [first = std::move(first)] { first(Errc::invalid_argument); });
        return;
      }
      self->url_ = std::move(url);
      self->tls_ = std::move(tls);
      self->first_cb_ = std::move(first);
      if (self->tls_) {
        log::info("redis connecting", {{"client", self->options_.name},
                                       {"url", self->url_.to_string()},
                                       {"tls", true},
                                       {"server_name", self->tls_->server_name}});
      } else {
        log::info("redis connecting", {{"client", self->options_.name}, {"url", self->url_.to_string()}});
      }
      self->begin_attempt();
    });
    return {};
  }

  void close() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->do_close(); });
  }

  // --- commands -------------------------------------------------------------------------------

  void send(std::string resp, std::unique_ptr<Pending> p) {
    asio::dispatch(strand_, [self = shared_from_this(), resp = std::move(resp), p = std::move(p)]() mutable {
      self->do_send(resp, std::move(p));
    });
  }

  // --- subscriptions --------------------------------------------------------------------------

  void subscribe(bool pattern, std::string name, MessageHandler handler, DoneCallback done) {
    asio::dispatch(strand_, [self = shared_from_this(), pattern, name = std::move(name),
                             handler = std::move(handler), done = std::move(done)]() mutable {
      self->do_subscribe(pattern, std::move(name), std::move(handler), std::move(done));
    });
  }

  void unsubscribe(bool pattern, std::string name) {
    asio::dispatch(strand_, [self = shared_from_this(), pattern, name = std::move(name)] {
      self->do_unsubscribe(pattern, name);
    });
  }

 private:
  enum class State : std::uint8_t { idle, resolving, connecting, ready, waiting, closed };

  struct Subscription {
    std::shared_ptr<const MessageHandler> handler;
    bool confirmed = false;
    std::vector<DoneCallback> waiters;
  };
  using SubMap = std::map<std::string, Subscription, std::less<>>;

  // --- helpers --------------------------------------------------------------------------------

  template <typename F>
  void post(F&& f) {
    asio::post(strand_, std::forward<F>(f));
  }

  void fail_later(ReplyCallback cb, std::error_code ec) {
    if (cb) post([cb = std::move(cb), ec]() mutable { cb(ec, Reply{}); });
  }

  void done_later(DoneCallback cb, std::error_code ec) {
    if (cb) post([cb = std::move(cb), ec]() mutable { cb(ec); });
  }

  std::chrono::milliseconds next_backoff() {
    const auto base = backoff_;
    backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
    // 80..100 % of the step, so that many servers do not reconnect in lock-step.
    std::uniform_int_distribution<long> jitter(base.count() * 8 / 10, base.count());
    return std::chrono::milliseconds(std::max(1L, static_cast<long>(jitter(rng_))));
  }

  std::chrono::milliseconds tick_period() const {
    auto period = options_.connect_timeout;
    if (options_.command_timeout.count() > 0) period = std::min(period, options_.command_timeout);
    period /= 4;
    return std::clamp(period, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  }

  // --- connection attempts --------------------------------------------------------------------

  void begin_attempt() {
    ++gen_;
    handshake_error_ = false;
    state_ = State::resolving;
    attempt_started_ = Clock::now();
    arm_tick();
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(url_.host, ec);
    if (!ec) {
      connect_to(address);
      return;
    }
    if (!resolver_) resolver_.emplace(strand_);
    resolver_->async_resolve(
        url_.host, std::to_string(url_.port),
        [self = shared_from_this(), gen = gen_](const boost::system::error_code& rec,
                                                const asio::ip::tcp::resolver::results_type& results) {
          if (gen != self->gen_ || self->state_ != State::resolving) return;
          if (rec || results.empty()) {
            log::warn("redis host not resolved",
                      {{"client", self->options_.name},
                       {"host", self->url_.host},
                       {"error", rec ? rec.message() : std::string("no address")}});
            self->attempt_failed(Errc::connect_failed);
            return;
          }
          // Prefer IPv4; rotate through the addresses across attempts.
          std::vector<asio::ip::address> v4;
          std::vector<asio::ip::address> v6;
          for (const auto& entry : results) {
            (entry.endpoint().address().is_v4() ? v4 : v6).push_back(entry.endpoint().address());
          }
          v4.insert(v4.end(), v6.begin(), v6.end());
          const auto& pick = v4[self->resolve_rotation_++ % v4.size()];
          self->connect_to(pick);
        });
  }

  void connect_to(const asio::ip::address& address) {
    std::shared_ptr<Transport> conn;
    if (tls_) {
      conn = connect_tls(strand_, *tls_, asio::ip::tcp::endpoint(address, url_.port), *this, options_.name);
    } else {
      conn = connect_hiredis(strand_, address.to_string(), url_.port, *this, options_.name);
    }
    if (!conn) {
      attempt_failed(Errc::connect_failed);
      return;
    }
    conn_ = std::move(conn);
    self_ = shared_from_this();  // the Link lives at least as long as its transport reports to it
    state_ = State::connecting;

    // Handshake, pipelined: [AUTH] [SELECT] PING. Writing it also starts the connect.
    if (!url_.password.empty()) {
      if (url_.username.empty()) {
        send_internal(Pending::Kind::auth, std::array<std::string_view, 2>{"AUTH", url_.password});
      } else {
        send_internal(Pending::Kind::auth,
                      std::array<std::string_view, 3>{"AUTH", url_.username, url_.password});
      }
    }
    if (mode_ == Mode::command && url_.db != 0) {
      const std::string db = std::to_string(url_.db);
      send_internal(Pending::Kind::select, std::array<std::string_view, 2>{"SELECT", db});
    }
    for (const auto& script : preloaded_)
      send_internal(Pending::Kind::script, std::array<std::string_view, 3>{"SCRIPT", "LOAD", script->source});
    send_internal(Pending::Kind::ping, std::array<std::string_view, 1>{"PING"});
  }

  template <typename Range>
  void send_internal(Pending::Kind kind, const Range& args) {
    auto p = std::make_unique<Pending>();
    p->kind = kind;
    p->gen = gen_;
    const std::string resp = format_command(args);
    if (conn_->write(resp, p)) inflight_.push_back(Clock::now());
  }

  void arm_tick() {
    tick_timer_.expires_after(tick_period());
    tick_timer_.async_wait([self = shared_from_this(), gen = gen_](const boost::system::error_code& ec) {
      if (ec || gen != self->gen_ || self->state_ == State::closed || self->state_ == State::waiting) return;
      self->on_tick();
    });
  }

  void on_tick() {
    const auto now = Clock::now();
    if ((state_ == State::resolving || state_ == State::connecting) &&
        now - attempt_started_ >= options_.connect_timeout) {
      log::warn("redis connect timed out", {{"client", options_.name}, {"url", url_.to_string()}});
      if (conn_) {
        drop_connection(Errc::timeout);
      } else {
        if (resolver_) resolver_->cancel();
        attempt_failed(Errc::timeout);
      }
      return;
    }
    if (options_.command_timeout.count() > 0 && !inflight_.empty() &&
        now - inflight_.front() >= options_.command_timeout) {
      log::warn("redis command timed out: dropping the connection",
                {{"client", options_.name},
                 {"timeout_ms", static_cast<std::int64_t>(options_.command_timeout.count())}});
      drop_connection(Errc::timeout);
      return;
    }
    if (mode_ == Mode::subscriber && state_ == State::ready && options_.command_timeout.count() > 0) {
      // Health check of the subscribe-mode connection: a regular PING's reply could be confused
      // with a message by hiredis 0.14, so SUBSCRIBE again to a private channel and wait for the
      // confirmation, which takes the channel-callback path.
      if (health_sent_) {
        if (now - *health_sent_ >= options_.command_timeout) {
          log::warn("redis subscriber health check timed out: dropping the connection",
                    {{"client", options_.name},
                     {"timeout_ms", static_cast<std::int64_t>(options_.command_timeout.count())}});
          drop_connection(Errc::timeout);
          return;
        }
      } else if (now - last_health_ >= options_.command_timeout) {
        health_sent_ = now;
        const std::array<std::string_view, 2> args{"SUBSCRIBE", health_channel_};
        write_subscribe(format_command(args));
      }
    }
    arm_tick();
  }

  // We drop the connection ourselves. Never called from inside a transport event.
  void drop_connection(std::error_code why) {
    if (!conn_) return;
    auto keep = shared_from_this();
    const auto conn = std::move(conn_);  // marks the replies completed during the close as ours
    free_reason_ = why;
    self_.reset();
    conn->close();  // pending replies complete with nullptr -> why
    if (state_ != State::closed) attempt_failed(why);
  }

  // The transport failed by itself (EOF, I/O error, failed connect or TLS handshake). Runs inside
  // the transport: only record and post (the posted handler keeps the transport alive until the
  // transport's own call stack has unwound).
  void transport_gone(Transport& t, std::error_code why) override {
    if (&t != conn_.get()) return;  // we are closing it (drop_connection / do_close) or already handled
    auto conn = std::move(conn_);
    free_reason_ = why;
    auto keep = std::move(self_);
    if (!keep) keep = shared_from_this();
    post([keep, conn = std::move(conn), gen = gen_, why] {
      if (gen == keep->gen_ && keep->state_ != State::closed) keep->attempt_failed(why);
    });
  }

  // The connection (if any) is gone; report and schedule the next attempt.
  void attempt_failed(std::error_code why) {
    inflight_.clear();
    tick_timer_.cancel();
    const bool was_ready = ready_flag_.exchange(false, std::memory_order_acq_rel);
    state_ = State::waiting;
    restore_pending_.clear();
    for (SubMap* map : {&channels_, &patterns_}) {
      for (auto& [name, sub] : *map) {
        sub.confirmed = false;
        for (auto& w : sub.waiters)
          done_later(std::move(w), Errc::connection_lost);
        sub.waiters.clear();
      }
    }
    if (was_ready) {
      log::warn("redis connection lost",
                {{"client", options_.name}, {"url", url_.to_string()}, {"error", why.message()}});
      // A copy: the callback may close() us, which releases the stored one.
      if (auto cb = on_disconnected_) cb(why);
    } else if (first_cb_) {
      log::warn("redis connect failed: retrying in the background",
                {{"client", options_.name}, {"url", url_.to_string()}, {"error", why.message()}});
      auto first = std::move(first_cb_);
      first_cb_ = nullptr;
      first(why);
    } else {
      log::debug("redis connection attempt failed", {{"client", options_.name}, {"error", why.message()}});
    }
    if (state_ != State::waiting) return;  // a callback closed us
    const auto delay = next_backoff();
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->state_ != State::waiting) return;
      self->begin_attempt();
    });
  }

  void handshake_done() {
    state_ = State::ready;
    health_sent_.reset();
    last_health_ = Clock::now();
    conn_->enable_keepalive();
    if (mode_ == Mode::subscriber && (!channels_.empty() || !patterns_.empty())) {
      // Restore the subscription set, then announce.
      for (const bool pattern : {false, true}) {
        SubMap& map = pattern ? patterns_ : channels_;
        if (map.empty()) continue;
        std::vector<std::string_view> args;
        args.reserve(map.size() + 1);
        args.emplace_back(pattern ? "PSUBSCRIBE" : "SUBSCRIBE");
        for (const auto& entry : map) {
          args.emplace_back(entry.first);
          restore_pending_.emplace(pattern, entry.first);
        }
        write_subscribe(format_command(args));
      }
      return;
    }
    announce_ready();
  }

  void announce_ready() {
    const bool reconnect = ever_ready_;
    ever_ready_ = true;
    backoff_ = options_.reconnect_min;
    ready_flag_.store(true, std::memory_order_release);
    log::info(reconnect ? "redis reconnected" : "redis connected",
              {{"client", options_.name}, {"url", url_.to_string()}});
    if (first_cb_) {
      auto first = std::move(first_cb_);
      first_cb_ = nullptr;
      first(std::error_code{});
    }
    // Copies: a callback may close() us, which releases the stored ones.
    if (auto cb = on_connected_; state_ == State::ready && cb) cb();
    if (auto cb = on_reconnected_; state_ == State::ready && reconnect && cb) cb();
  }

  void do_close() {
    if (state_ == State::closed) return;
    auto keep = shared_from_this();
    state_ = State::closed;
    ready_flag_.store(false, std::memory_order_release);
    retry_timer_.cancel();
    tick_timer_.cancel();
    if (resolver_) resolver_->cancel();
    if (conn_) {
      const auto conn = std::move(conn_);
      free_reason_ = Errc::closed;
      self_.reset();
      conn->close();
    }
    inflight_.clear();
    restore_pending_.clear();
    for (SubMap* map : {&channels_, &patterns_}) {
      for (auto& [name, sub] : *map) {
        for (auto& w : sub.waiters)
          done_later(std::move(w), Errc::closed);
      }
      map->clear();
    }
    if (first_cb_) {
      auto first = std::move(first_cb_);
      first_cb_ = nullptr;
      first(Errc::closed);
    }
    // Release whatever the owner's callbacks captured.
    on_connected_ = nullptr;
    on_reconnected_ = nullptr;
    on_disconnected_ = nullptr;
    if (ever_ready_ || gen_ != 0) log::info("redis client closed", {{"client", options_.name}});
  }

  void do_send(const std::string& resp, std::unique_ptr<Pending> p) {
    if (state_ == State::closed) {
      fail_later(std::move(p->cb), Errc::closed);
      return;
    }
    if (state_ != State::ready || !conn_ || !ready_flag_.load(std::memory_order_relaxed)) {
      fail_later(std::move(p->cb), Errc::not_connected);
      return;
    }
    if (options_.max_pending != 0 && inflight_.size() >= options_.max_pending) {
      fail_later(std::move(p->cb), Errc::too_many_pending);
      return;
    }
    p->gen = gen_;
    if (!conn_->write(resp, p)) {
      fail_later(std::move(p->cb), Errc::not_connected);
      return;
    }
    inflight_.push_back(Clock::now());
  }

  // --- transport events (run inside the transport, on the strand: only record and post) -------

  void transport_reply(Transport& t, const redisReply* r, std::unique_ptr<Pending> p) override {
    const bool current = &t == conn_.get();
    if (current && !inflight_.empty()) inflight_.pop_front();
    std::error_code ec;
    Reply reply;
    if (r == nullptr) {
      ec = current ? std::error_code(Errc::connection_lost) : free_reason_;
    } else {
      reply = convert_reply(r);
    }

    if (p->kind == Pending::Kind::script) {
      // A script that does not compile fails where it is used; the connection goes on.
      if (r != nullptr && reply.is_error())
        log::warn("redis refused SCRIPT LOAD", {{"client", options_.name}, {"error", reply.str}});
      return;
    }
    if (p->kind != Pending::Kind::user) {
      if (r == nullptr || p->gen != gen_ || !current) return;  // the loss is handled elsewhere
      if (handshake_error_) return;  // the first refusal is reported; the connection is going
      if (reply.is_error()) {
        handshake_error_ = true;
        const bool auth = p->kind == Pending::Kind::auth;
        log::error("redis refused the handshake",
                   {{"client", options_.name},
                    {"command", auth ? "AUTH" : (p->kind == Pending::Kind::select ? "SELECT" : "PING")},
                    {"error", reply.str}});
        const std::error_code why = auth ? Errc::auth_failed : Errc::handshake_failed;
        post([self = shared_from_this(), gen = p->gen, why] {
          if (gen == self->gen_ && self->state_ == State::connecting) self->drop_connection(why);
        });
      } else if (p->kind == Pending::Kind::ping) {
        post([self = shared_from_this(), gen = p->gen] {
          if (gen == self->gen_ && self->state_ == State::connecting && self->conn_) self->handshake_done();
        });
      }
      return;
    }

    if (!ec && reply.is_error()) {
      if (p->script && reply.str.starts_with("NOSCRIPT")) {
        // Load the script and run EVALSHA again, once, through the normal path.
        auto load = std::make_unique<Pending>();
        const std::array<std::string_view, 3> load_args{"SCRIPT", "LOAD", p->script->source};
        std::string load_resp = format_command(load_args);
        auto retry = std::make_unique<Pending>();
        retry->cb = std::move(p->cb);
        std::string resend = std::move(p->resend);
        post([self = shared_from_this(), load = std::move(load), load_resp = std::move(load_resp),
              retry = std::move(retry), resend = std::move(resend)]() mutable {
          self->do_send(load_resp, std::move(load));
          self->do_send(resend, std::move(retry));
        });
        return;
      }
      ec = Errc::server_error;
    }
    if (p->cb) {
      post([cb = std::move(p->cb), ec, reply = std::move(reply)]() mutable { cb(ec, std::move(reply)); });
    }
  }

  // Subscribe-mode pushes: every message and (un)subscribe confirmation.
  void transport_push(Transport& t, const redisReply* r) override {
    if (&t != conn_.get() || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    auto str = [r](std::size_t i) {
      const redisReply* e = r->element[i];
      return (e != nullptr && e->type == REDIS_REPLY_STRING) ? std::string(e->str, e->len) : std::string();
    };
    const std::string kind = str(0);
    if (kind == "message") {
      post([self = shared_from_this(), channel = str(1), payload = str(2)] {
        self->deliver(false, channel, channel, payload);
      });
    } else if (kind == "pmessage" && r->elements >= 4) {
      post([self = shared_from_this(), pattern = str(1), channel = str(2), payload = str(3)] {
        self->deliver(true, pattern, channel, payload);
      });
    } else if (kind == "subscribe" || kind == "psubscribe") {
      post([self = shared_from_this(), pattern = kind == "psubscribe", name = str(1), gen = gen_] {
        self->confirm(pattern, name, gen);
      });
    }
    // unsubscribe / punsubscribe: nothing to do, the entry is already gone on our side.
  }

  void deliver(bool pattern, const std::string& key, const std::string& channel, const std::string& payload) {
    SubMap& map = pattern ? patterns_ : channels_;
    const auto it = map.find(key);
    if (it == map.end() || !it->second.handler) return;
    const auto handler = it->second.handler;  // the handler may unsubscribe itself
    (*handler)(channel, payload);
  }

  void confirm(bool pattern, const std::string& name, std::uint64_t gen) {
    if (gen != gen_ || state_ != State::ready) return;
    if (!pattern && name == health_channel_) {
      health_sent_.reset();
      last_health_ = Clock::now();
      return;
    }
    SubMap& map = pattern ? patterns_ : channels_;
    if (auto it = map.find(name); it != map.end()) {
      it->second.confirmed = true;
      auto waiters = std::move(it->second.waiters);
      it->second.waiters.clear();
      for (auto& w : waiters) {
        if (w) w(std::error_code{});
      }
    }
    if (!restore_pending_.empty() && restore_pending_.erase({pattern, name}) == 1 &&
        restore_pending_.empty()) {
      if (state_ == State::ready && !ready_flag_.load(std::memory_order_relaxed)) announce_ready();
    }
  }

  bool write_subscribe(const std::string& resp) {
    // Refused only while the connection is being torn down; the loss is then reported anyway.
    return conn_->write_push(resp);
  }

  void do_subscribe(bool pattern, std::string name, MessageHandler handler, DoneCallback done) {
    if (state_ == State::closed) {
      done_later(std::move(done), Errc::closed);
      return;
    }
    SubMap& map = pattern ? patterns_ : channels_;
    auto [it, inserted] = map.try_emplace(std::move(name));
    it->second.handler = std::make_shared<const MessageHandler>(std::move(handler));
    const bool live = state_ == State::ready && conn_ != nullptr;
    if (!inserted) {
      if (it->second.confirmed) {
        done_later(std::move(done), std::error_code{});
      } else if (live) {
        if (done) it->second.waiters.push_back(std::move(done));
      } else {
        done_later(std::move(done), Errc::not_connected);
      }
      return;
    }
    if (!live) {
      done_later(std::move(done), Errc::not_connected);  // kept; made on the next connection
      return;
    }
    if (done) it->second.waiters.push_back(std::move(done));
    const std::array<std::string_view, 2> args{pattern ? "PSUBSCRIBE" : "SUBSCRIBE", it->first};
    if (!write_subscribe(format_command(args))) {
      for (auto& w : it->second.waiters)
        done_later(std::move(w), Errc::not_connected);
      it->second.waiters.clear();
    }
  }

  void do_unsubscribe(bool pattern, const std::string& name) {
    SubMap& map = pattern ? patterns_ : channels_;
    const auto it = map.find(name);
    if (it == map.end()) return;
    for (auto& w : it->second.waiters)
      done_later(std::move(w), Errc::cancelled);
    map.erase(it);
    // Every entry of the map was SUBSCRIBEd on the current connection when it is ready, so
    // hiredis knows the channel (hiredis 0.14 must not see an UNSUBSCRIBE for an unknown one).
    if (state_ == State::ready && conn_) {
      const std::array<std::string_view, 2> args{pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", name};
      conn_->write_push(format_command(args));
    }
  }

  // --- state ----------------------------------------------------------------------------------

  Strand strand_;
  ClientOptions options_;
  Mode mode_;
  RedisUrl url_;
  std::shared_ptr<const TlsSettings> tls_;  // rediss:// only
  State state_ = State::idle;
  std::atomic<bool> ready_flag_{false};
  bool ever_ready_ = false;
  bool handshake_error_ = false;     // this attempt's handshake was refused
  std::uint64_t gen_ = 0;            // attempt number; stale callbacks compare against it
  std::shared_ptr<Transport> conn_;  // the current connection (attempt), if any
  std::shared_ptr<Link> self_;       // held while conn_ is set
  std::error_code free_reason_;
  std::vector<std::shared_ptr<const ScriptData>> preloaded_;  // set before start()
  std::deque<Clock::time_point> inflight_;                    // send times of the commands awaiting replies
  Clock::time_point attempt_started_{};
  std::chrono::milliseconds backoff_{};
  asio::steady_timer retry_timer_;
  asio::steady_timer tick_timer_;
  std::optional<asio::ip::tcp::resolver> resolver_;
  std::size_t resolve_rotation_ = 0;
  std::minstd_rand rng_;
  StartCallback first_cb_;
  EventCallback on_connected_;
  EventCallback on_reconnected_;
  DisconnectCallback on_disconnected_;
  SubMap channels_;
  SubMap patterns_;
  std::set<std::pair<bool, std::string>> restore_pending_;
  // Subscriber health check (see on_tick).
  std::string health_channel_;
  std::optional<Clock::time_point> health_sent_;
  Clock::time_point last_health_{};
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// RedisClient

struct RedisClient::Private {};

std::shared_ptr<RedisClient> RedisClient::create(const boost::asio::any_io_executor& ex,
                                                 ClientOptions options) {
  return std::make_shared<RedisClient>(Private{}, ex, std::move(options));
}

RedisClient::RedisClient(Private, const boost::asio::any_io_executor& ex, ClientOptions options)
    : link_(std::make_shared<detail::Link>(ex, std::move(options), detail::Link::Mode::command)) {}

RedisClient::~RedisClient() {
  link_->close();
}

void RedisClient::on_connected(EventCallback cb) {
  link_->set_on_connected(std::move(cb));
}
void RedisClient::on_disconnected(DisconnectCallback cb) {
  link_->set_on_disconnected(std::move(cb));
}
void RedisClient::on_reconnected(EventCallback cb) {
  link_->set_on_reconnected(std::move(cb));
}
std::error_code RedisClient::start(StartCallback on_first_result) {
  return link_->start(std::move(on_first_result));
}
void RedisClient::close() {
  link_->close();
}
bool RedisClient::connected() const noexcept {
  return link_->ready();
}
Strand RedisClient::executor() const {
  return link_->strand();
}

void RedisClient::command(std::span<const std::string_view> args, ReplyCallback cb) {
  if (args.empty() || is_forbidden_on_command_link(args.front())) {
    if (cb) boost::asio::post(link_->strand(), [cb = std::move(cb)] { cb(Errc::invalid_argument, Reply{}); });
    return;
  }
  auto p = std::make_unique<detail::Pending>();
  p->cb = std::move(cb);
  link_->send(format_command(args), std::move(p));
}

void RedisClient::command(std::initializer_list<std::string_view> args, ReplyCallback cb) {
  command(std::span<const std::string_view>(args.begin(), args.size()), std::move(cb));
}

void RedisClient::preload(const Script& script) {
  link_->preload(script.data_);
}

void RedisClient::eval(const Script& script, std::span<const std::string_view> keys,
                       std::span<const std::string_view> args, ReplyCallback cb) {
  const std::string numkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.emplace_back(script.sha1());
  argv.emplace_back(numkeys);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = std::make_unique<detail::Pending>();
  p->cb = std::move(cb);
  p->script = script.data_;
  p->resend = format_command(argv);
  std::string resp = p->resend;
  link_->send(std::move(resp), std::move(p));
}

void RedisClient::eval(const Script& script, std::initializer_list<std::string_view> keys,
                       std::initializer_list<std::string_view> args, ReplyCallback cb) {
  eval(script, std::span<const std::string_view>(keys.begin(), keys.size()),
       std::span<const std::string_view>(args.begin(), args.size()), std::move(cb));
}

// ---------------------------------------------------------------------------------------------
// RedisSubscriber

struct RedisSubscriber::Private {};

std::shared_ptr<RedisSubscriber> RedisSubscriber::create(const boost::asio::any_io_executor& ex,
                                                         ClientOptions options) {
  return std::make_shared<RedisSubscriber>(Private{}, ex, std::move(options));
}

RedisSubscriber::RedisSubscriber(Private, const boost::asio::any_io_executor& ex, ClientOptions options)
    : link_(std::make_shared<detail::Link>(ex, std::move(options), detail::Link::Mode::subscriber)) {}

RedisSubscriber::~RedisSubscriber() {
  link_->close();
}

void RedisSubscriber::on_connected(EventCallback cb) {
  link_->set_on_connected(std::move(cb));
}
void RedisSubscriber::on_disconnected(DisconnectCallback cb) {
  link_->set_on_disconnected(std::move(cb));
}
void RedisSubscriber::on_reconnected(EventCallback cb) {
  link_->set_on_reconnected(std::move(cb));
}
std::error_code RedisSubscriber::start(StartCallback on_first_result) {
  return link_->start(std::move(on_first_result));
}
void RedisSubscriber::close() {
  link_->close();
}
bool RedisSubscriber::connected() const noexcept {
  return link_->ready();
}
Strand RedisSubscriber::executor() const {
  return link_->strand();
}

void RedisSubscriber::subscribe(std::string channel, MessageHandler handler, DoneCallback done) {
  link_->subscribe(false, std::move(channel), std::move(handler), std::move(done));
}
void RedisSubscriber::psubscribe(std::string pattern, MessageHandler handler, DoneCallback done) {
  link_->subscribe(true, std::move(pattern), std::move(handler), std::move(done));
}
void RedisSubscriber::unsubscribe(std::string channel) {
  link_->unsubscribe(false, std::move(channel));
}
void RedisSubscriber::punsubscribe(std::string pattern) {
  link_->unsubscribe(true, std::move(pattern));
}

}  // namespace sig::redis
