#include "redis/connection.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <hiredis/hiredis.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>

#include "common/log.hpp"
#include "redis/hiredis_transport.hpp"
#include "redis/tls_transport.hpp"

namespace sig::redis::detail {

namespace asio = boost::asio;

Connection::Connection(Strand strand, ClientOptions options, Traits traits)
    : strand_(std::move(strand)),
      options_(std::move(options)),
      traits_(traits),
      retry_timer_(strand_),
      tick_timer_(strand_),
      rng_(std::random_device{}()) {
  if (options_.reconnect_min.count() <= 0) options_.reconnect_min = std::chrono::milliseconds(1);
  if (options_.reconnect_max < options_.reconnect_min) options_.reconnect_max = options_.reconnect_min;
  backoff_ = options_.reconnect_min;
}

// ---------------------------------------------------------------------------------------------
// Configuration and start

void Connection::set_on_connected(EventCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    if (self->state_ != State::closed) self->on_connected_ = std::move(cb);
  });
}
void Connection::set_on_reconnected(EventCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    if (self->state_ != State::closed) self->on_reconnected_ = std::move(cb);
  });
}
void Connection::set_on_disconnected(DisconnectCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    if (self->state_ != State::closed) self->on_disconnected_ = std::move(cb);
  });
}

std::error_code Connection::start(StartCallback first) {
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
      log::warn("redis tls certificate verification is OFF: UNSAFE, anyone on the path can impersonate Redis",
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

void Connection::close() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->do_close(); });
}

// ---------------------------------------------------------------------------------------------
// Helpers

void Connection::fail_later(ReplyCallback cb, std::error_code ec) {
  if (cb) post([cb = std::move(cb), ec]() mutable { cb(ec, Reply{}); });
}

bool Connection::write_command(std::string_view resp, std::unique_ptr<Pending>& p) {
  p->gen = gen_;
  if (!conn_->write(resp, p)) return false;
  inflight_.push_back(Clock::now());
  return true;
}

std::chrono::milliseconds Connection::next_backoff() {
  const auto base = backoff_;
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
  // 80..100 % of the step, so that many servers do not reconnect in lock-step.
  std::uniform_int_distribution<long> jitter(base.count() * 8 / 10, base.count());
  return std::chrono::milliseconds(std::max(1L, static_cast<long>(jitter(rng_))));
}

std::chrono::milliseconds Connection::tick_period() const {
  auto period = options_.connect_timeout;
  if (options_.command_timeout.count() > 0) period = std::min(period, options_.command_timeout);
  period /= 4;
  return std::clamp(period, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

// ---------------------------------------------------------------------------------------------
// Connection attempts

void Connection::begin_attempt() {
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
        self->resolved(rec, results);
      });
}

void Connection::resolved(const boost::system::error_code& ec,
                          const asio::ip::tcp::resolver::results_type& results) {
  if (ec || results.empty()) {
    log::warn("redis host not resolved", {{"client", options_.name},
                                          {"host", url_.host},
                                          {"error", ec ? ec.message() : std::string("no address")}});
    attempt_failed(Errc::connect_failed);
    return;
  }
  // Prefer IPv4; rotate through the addresses across attempts.
  std::vector<asio::ip::address> v4;
  std::vector<asio::ip::address> v6;
  for (const auto& entry : results) {
    (entry.endpoint().address().is_v4() ? v4 : v6).push_back(entry.endpoint().address());
  }
  v4.insert(v4.end(), v6.begin(), v6.end());
  const auto pick = v4[resolve_rotation_++ % v4.size()];
  connect_to(pick);
}

void Connection::connect_to(const asio::ip::address& address) {
  std::shared_ptr<Transport> conn;
  const asio::ip::tcp::endpoint endpoint(address, url_.port);
  if (tls_) {
    conn = connect_tls(strand_, *tls_, endpoint, *this, options_.name);
  } else if (traits_.own_reader) {
    conn = connect_plain(strand_, endpoint, *this, options_.name);
  } else {
    conn = connect_hiredis(strand_, address.to_string(), url_.port, *this, options_.name);
  }
  if (!conn) {
    attempt_failed(Errc::connect_failed);
    return;
  }
  conn_ = std::move(conn);
  self_ = shared_from_this();  // the Connection lives at least as long as its transport reports to it
  state_ = State::connecting;

  // Handshake, pipelined: [AUTH] [SELECT] [SCRIPT LOAD...] PING. Writing it also starts the connect.
  if (!url_.password.empty()) {
    if (url_.username.empty()) {
      send_internal(Pending::Kind::auth, std::array<std::string_view, 2>{"AUTH", url_.password});
    } else {
      send_internal(Pending::Kind::auth,
                    std::array<std::string_view, 3>{"AUTH", url_.username, url_.password});
    }
  }
  if (traits_.select_db && url_.db != 0) {
    const std::string db = std::to_string(url_.db);
    send_internal(Pending::Kind::select, std::array<std::string_view, 2>{"SELECT", db});
  }
  for (const auto& script : preloaded_)
    send_internal(Pending::Kind::script, std::array<std::string_view, 3>{"SCRIPT", "LOAD", script->source});
  send_internal(Pending::Kind::ping, std::array<std::string_view, 1>{"PING"});
}

template <typename Range>
void Connection::send_internal(Pending::Kind kind, const Range& args) {
  auto p = std::make_unique<Pending>();
  p->kind = kind;
  write_command(format_command(args), p);
}

void Connection::arm_tick() {
  tick_timer_.expires_after(tick_period());
  tick_timer_.async_wait([self = shared_from_this(), gen = gen_](const boost::system::error_code& ec) {
    if (ec || gen != self->gen_ || self->state_ == State::closed || self->state_ == State::waiting) return;
    self->on_tick();
  });
}

void Connection::on_tick() {
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
  if (state_ == State::ready && !tick_ready(now)) return;
  arm_tick();
}

void Connection::drop_connection(std::error_code why) {
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
void Connection::transport_gone(Transport& t, std::error_code why) {
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
void Connection::attempt_failed(std::error_code why) {
  inflight_.clear();
  tick_timer_.cancel();
  const bool was_ready = ready_flag_.exchange(false, std::memory_order_acq_rel);
  state_ = State::waiting;
  connection_lost();
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
  retry_timer_.expires_after(next_backoff());
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->state_ != State::waiting) return;
    self->begin_attempt();
  });
}

void Connection::announce_ready() {
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

void Connection::do_close() {
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
  closing();
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

// ---------------------------------------------------------------------------------------------
// Replies (run inside the transport, on the strand: only record and post)

void Connection::transport_reply(Transport& t, const redisReply* r, std::unique_ptr<Pending> p) {
  const bool current = &t == conn_.get();
  if (current && !inflight_.empty()) inflight_.pop_front();
  if (p->kind == Pending::Kind::user) {
    user_reply(current, r, std::move(p));
    return;
  }
  if (p->kind == Pending::Kind::script) {
    // A script that does not compile fails where it is used; the connection goes on.
    if (r != nullptr && r->type == REDIS_REPLY_ERROR) {
      log::warn("redis refused SCRIPT LOAD",
                {{"client", options_.name}, {"error", std::string_view(r->str, r->len)}});
    }
    return;
  }
  if (r == nullptr || p->gen != gen_ || !current) return;  // the loss is handled elsewhere
  handshake_reply(r, convert_reply(r), *p);
}

void Connection::handshake_reply(const redisReply* /*r*/, const Reply& reply, const Pending& p) {
  if (handshake_error_) return;  // the first refusal is reported; the connection is going
  if (reply.is_error()) {
    handshake_error_ = true;
    const bool auth = p.kind == Pending::Kind::auth;
    log::error("redis refused the handshake",
               {{"client", options_.name},
                {"command", auth ? "AUTH" : (p.kind == Pending::Kind::select ? "SELECT" : "PING")},
                {"error", reply.str}});
    const std::error_code why = auth ? Errc::auth_failed : Errc::handshake_failed;
    post([self = shared_from_this(), gen = p.gen, why] {
      if (gen == self->gen_ && self->state_ == State::connecting) self->drop_connection(why);
    });
  } else if (p.kind == Pending::Kind::ping) {
    post([self = shared_from_this(), gen = p.gen] {
      if (gen != self->gen_ || self->state_ != State::connecting || !self->conn_) return;
      self->state_ = State::ready;
      self->conn_->enable_keepalive();
      self->handshake_done();
    });
  }
}

void Connection::user_reply(bool current, const redisReply* r, std::unique_ptr<Pending> p) {
  std::error_code ec;
  Reply reply;
  if (r == nullptr) {
    ec = current ? std::error_code(Errc::connection_lost) : free_reason_;
  } else {
    reply = convert_reply(r);
    if (reply.is_error()) ec = Errc::server_error;
  }
  if (p->cb)
    post([cb = std::move(p->cb), ec, reply = std::move(reply)]() mutable { cb(ec, std::move(reply)); });
}

}  // namespace sig::redis::detail
