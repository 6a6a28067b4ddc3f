#include "runner.hpp"

#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

namespace load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;

Schedule make_schedule(const Options& o, std::int64_t t0) {
  Schedule s;
  auto ns = [](double sec) { return static_cast<std::int64_t>(sec * 1e9); };
  std::int64_t t = t0;
  if (o.mode == Mode::relay) {
    for (double rate : o.rates) {
      StepWindow w;
      w.rate = rate;
      w.start = t;
      w.measure_start = t + ns(o.warmup_s);
      w.measure_end = w.measure_start + ns(o.duration_s);
      w.end = w.measure_end + ns(o.gap_s);
      t = w.end;
      s.steps.push_back(w);
    }
  } else {
    StepWindow w;
    w.rate = o.mode == Mode::join ? o.join_rate : 0;
    w.start = t;
    w.measure_start = t + (o.mode == Mode::join ? ns(o.warmup_s) : 0);
    w.measure_end = w.measure_start + ns(o.duration_s);
    w.end = w.measure_end + ns(o.mode == Mode::join ? std::max(o.gap_s, o.join_hold_ms / 1000.0 + 1.0) : 0.0);
    s.steps.push_back(w);
  }
  s.end_all = s.steps.empty() ? t0 : s.steps.back().end;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Stats

void Stats::merge(const Stats& o) {
  if (steps.size() < o.steps.size()) steps.resize(o.steps.size());
  for (std::size_t i = 0; i < o.steps.size(); ++i) {
    steps[i].offered += o.steps[i].offered;
    steps[i].dropped += o.steps[i].dropped;
    steps[i].delivered += o.steps[i].delivered;
    steps[i].late += o.steps[i].late;
    steps[i].latency.merge(o.steps[i].latency);
    steps[i].lag.merge(o.steps[i].lag);
  }
  connect_ok += o.connect_ok;
  connect_fail += o.connect_fail;
  for (const auto& [k, v] : o.fail_codes)
    fail_codes[k] += v;
  for (const auto& [k, v] : o.errors)
    errors[k] += v;
  for (const auto& [k, v] : o.received)
    received[k] += v;
  relay_missing_from += o.relay_missing_from;
  closed_unexpected += o.closed_unexpected;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  joins_started += o.joins_started;
  joins_ok += o.joins_ok;
  joins_failed += o.joins_failed;
  joins_no_slot += o.joins_no_slot;
  leaves += o.leaves;
  join_latency.merge(o.join_latency);
  hb_sent += o.hb_sent;
  hb_acks += o.hb_acks;
  hb_acks_in_window += o.hb_acks_in_window;
  hb_rtt.merge(o.hb_rtt);
  fd_limit = fd_limit || o.fd_limit;
}

nlohmann::json Stats::to_json() const {
  nlohmann::json j;
  auto& js = j["steps"] = nlohmann::json::array();
  for (const auto& s : steps)
    js.push_back({{"offered", s.offered},
                  {"dropped", s.dropped},
                  {"delivered", s.delivered},
                  {"late", s.late},
                  {"latency", s.latency.to_json()},
                  {"lag", s.lag.to_json()}});
  j["connect_ok"] = connect_ok;
  j["connect_fail"] = connect_fail;
  j["fail_codes"] = fail_codes;
  j["errors"] = errors;
  j["received"] = received;
  j["relay_missing_from"] = relay_missing_from;
  j["closed_unexpected"] = closed_unexpected;
  j["bytes_sent"] = bytes_sent;
  j["bytes_received"] = bytes_received;
  j["joins_started"] = joins_started;
  j["joins_ok"] = joins_ok;
  j["joins_failed"] = joins_failed;
  j["joins_no_slot"] = joins_no_slot;
  j["leaves"] = leaves;
  j["join_latency"] = join_latency.to_json();
  j["hb_sent"] = hb_sent;
  j["hb_acks"] = hb_acks;
  j["hb_acks_in_window"] = hb_acks_in_window;
  j["hb_rtt"] = hb_rtt.to_json();
  j["fd_limit"] = fd_limit;
  return j;
}

Stats Stats::from_json(const nlohmann::json& j) {
  Stats s;
  for (const auto& js : j.at("steps")) {
    StepStats st;
    st.offered = js.at("offered");
    st.dropped = js.at("dropped");
    st.delivered = js.at("delivered");
    st.late = js.at("late");
    st.latency = Histogram::from_json(js.at("latency"));
    st.lag = Histogram::from_json(js.at("lag"));
    s.steps.push_back(std::move(st));
  }
  s.connect_ok = j.at("connect_ok");
  s.connect_fail = j.at("connect_fail");
  s.fail_codes = j.at("fail_codes").get<std::map<std::string, std::uint64_t>>();
  s.errors = j.at("errors").get<std::map<std::string, std::uint64_t>>();
  s.received = j.at("received").get<std::map<std::string, std::uint64_t>>();
  s.relay_missing_from = j.at("relay_missing_from");
  s.closed_unexpected = j.at("closed_unexpected");
  s.bytes_sent = j.at("bytes_sent");
  s.bytes_received = j.at("bytes_received");
  s.joins_started = j.at("joins_started");
  s.joins_ok = j.at("joins_ok");
  s.joins_failed = j.at("joins_failed");
  s.joins_no_slot = j.at("joins_no_slot");
  s.leaves = j.at("leaves");
  s.join_latency = Histogram::from_json(j.at("join_latency"));
  s.hb_sent = j.at("hb_sent");
  s.hb_acks = j.at("hb_acks");
  s.hb_acks_in_window = j.at("hb_acks_in_window");
  s.hb_rtt = Histogram::from_json(j.at("hb_rtt"));
  s.fd_limit = j.at("fd_limit");
  return s;
}

// ---------------------------------------------------------------------------------------------
// Client: one connection, speaking the project's protocol, peerjs-server's or the floor relay's.

namespace {
std::string_view type_of(std::string_view m) {
  // Every message of the three protocols starts with {"type":"...".
  constexpr std::string_view kPrefix = R"({"type":")";
  if (m.substr(0, kPrefix.size()) != kPrefix) return {};
  const auto end = m.find('"', kPrefix.size());
  if (end == std::string_view::npos) return {};
  return m.substr(kPrefix.size(), end - kPrefix.size());
}
std::string field_of(std::string_view m, std::string_view key) {
  const std::string pat = "\"" + std::string(key) + "\":\"";
  const auto pos = m.find(pat);
  if (pos == std::string_view::npos) return {};
  const auto end = m.find('"', pos + pat.size());
  if (end == std::string_view::npos) return {};
  return std::string(m.substr(pos + pat.size(), end - pos - pat.size()));
}
}  // namespace

class Client : public std::enable_shared_from_this<Client> {
 public:
  enum class State { idle, connecting, ready, leaving, closed };

  Client(Worker& w, const Slot& slot, std::size_t slot_index)
      : w_(w), slot_(slot), slot_index_(slot_index), hold_timer_(w.ioc) {
    if (w_.opt.protocol == Protocol::floor)
      raw_.emplace(w_.ioc);
    else
      ws_.emplace(w_.ioc);
  }

  State state() const { return state_; }
  const Slot& slot() const { return slot_; }
  std::size_t slot_index() const { return slot_index_; }
  std::int64_t started_at() const { return t_start_; }

  void connect() {
    state_ = State::connecting;
    t_start_ = now_ns();
    error_code ec;
    tcp::socket& s = sock();
    s.open(tcp::v4(), ec);
    if (ec) return fail(ec == asio::error::no_descriptors ? "fd_limit" : "socket:" + ec.message());
    if (auto src = w_.next_source()) {
      int one = 1;
      ::setsockopt(s.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      s.bind(tcp::endpoint(*src, 0), ec);
      if (ec) return fail("bind:" + ec.message());
    }
    s.set_option(tcp::no_delay(true), ec);
    const Endpoint& t = w_.opt.targets[slot_.target];
    tcp::endpoint ep(asio::ip::make_address(t.host, ec), t.port);
    if (ec) return fail("bad_target");
    s.async_connect(ep, [self = shared_from_this()](error_code e) { self->on_connect(e); });
  }

  // Queues a message (a whole frame for the floor); false when the backlog is full.
  bool send(std::string msg) {
    if (state_ != State::ready) return false;
    if (queue_.size() >= w_.opt.queue_limit) return false;
    queue_.push_back(std::move(msg));
    if (!writing_) do_write();
    return true;
  }

  std::size_t next_seq() { return seq_++; }

  void start_hold_timer(double ms) {
    hold_timer_.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(ms * 1000)));
    hold_timer_.async_wait([self = shared_from_this()](error_code e) {
      if (!e) self->leave();
    });
  }

  void leave() {
    if (state_ != State::ready) return;
    ++w_.stats.leaves;
    if (w_.opt.protocol == Protocol::signaling) {
      send(R"({"type":"leave"})");
      state_ = State::leaving;
      // The server closes with 1000; if it does not within 3 s, close anyway.
      hold_timer_.expires_after(std::chrono::seconds(3));
      hold_timer_.async_wait([self = shared_from_this()](error_code e) {
        if (!e) self->close(true);
      });
    } else {
      close(true);
    }
  }

  void close(bool expected) {
    if (state_ == State::closed) return;
    const bool was_open = state_ == State::ready || state_ == State::leaving;
    state_ = State::closed;
    error_code ec;
    hold_timer_.cancel();
    sock().shutdown(tcp::socket::shutdown_both, ec);
    sock().close(ec);
    if (was_open) w_.on_client_closed(*this, expected);
  }

 private:
  tcp::socket& sock() { return raw_ ? *raw_ : ws_->next_layer(); }

  void fail(const std::string& code) {
    if (state_ == State::closed) return;
    state_ = State::closed;
    error_code ec;
    sock().close(ec);
    w_.on_client_failed(*this, code);
  }

  void on_connect(error_code ec) {
    if (state_ != State::connecting) return;
    if (ec) return fail("connect:" + ec.message());
    if (raw_) {
      handshake_ = "JOIN " + std::to_string(slot_.gid / w_.opt.session_size) + " " +
                   std::to_string(slot_.gid % w_.opt.session_size) + "\n";
      asio::async_write(*raw_, asio::buffer(handshake_),
                        [self = shared_from_this()](error_code e, std::size_t) {
                          if (e) return self->fail("handshake:" + e.message());
                          self->do_read_raw();
                        });
      return;
    }
    ws_->auto_fragment(false);
    ws_->read_message_max(1 << 20);
    const Endpoint& t = w_.opt.targets[slot_.target];
    std::string path;
    if (w_.opt.protocol == Protocol::signaling)
      path = "/ws/signaling?token=" + slot_.token + "&sessionId=" + slot_.session_id;
    else
      path = "/peerjs?key=" + w_.opt.peerjs_key + "&id=" + slot_.user_id + "&token=" + w_.opt.prefix;
    ws_->async_handshake(t.str(), path, [self = shared_from_this()](error_code e) {
      if (e) return self->fail("handshake:" + e.message());
      self->do_read_ws();
    });
  }

  void do_read_ws() {
    ws_->async_read(rbuf_,
                    [self = shared_from_this()](error_code e, std::size_t n) { self->on_read_ws(e, n); });
  }
  void on_read_ws(error_code ec, std::size_t n) {
    if (ec) return on_read_error(ec);
    w_.stats.bytes_received += n;
    const auto data = rbuf_.cdata();
    on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
    rbuf_.consume(rbuf_.size());
    if (state_ != State::closed) do_read_ws();
  }

  void do_read_raw() {
    if (rbeg_ > 0 && rbeg_ == rend_) rbeg_ = rend_ = 0;
    if (raw_buf_.size() - rend_ < 16384) {
      if (rbeg_ > 0) {
        std::memmove(raw_buf_.data(), raw_buf_.data() + rbeg_, rend_ - rbeg_);
        rend_ -= rbeg_;
        rbeg_ = 0;
      }
      if (raw_buf_.size() - rend_ < 16384) raw_buf_.resize(std::max<std::size_t>(65536, raw_buf_.size() * 2));
    }
    raw_->async_read_some(
        asio::buffer(raw_buf_.data() + rend_, raw_buf_.size() - rend_),
        [self = shared_from_this()](error_code e, std::size_t n) { self->on_read_raw(e, n); });
  }
  void on_read_raw(error_code ec, std::size_t n) {
    if (ec) return on_read_error(ec);
    w_.stats.bytes_received += n;
    rend_ += n;
    for (;;) {
      const std::size_t avail = rend_ - rbeg_;
      const char* p = raw_buf_.data() + rbeg_;
      if (state_ == State::connecting) {
        const void* nl = std::memchr(p, '\n', avail);
        if (!nl) break;
        const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - p);
        const std::string_view line(p, len);
        rbeg_ += len + 1;
        if (line.substr(0, 2) == "OK") {
          became_ready();
        } else {
          return fail("floor:" + std::string(line.substr(0, 40)));
        }
        continue;
      }
      if (avail < kFloorHeader) break;
      std::uint32_t len = 0;
      std::memcpy(&len, p, 4);
      if (len < 2 || len > (1u << 24)) return fail("floor:bad_frame");
      if (avail < 4 + std::size_t{len}) {
        if (raw_buf_.size() < 4 + std::size_t{len} + 16384) raw_buf_.resize(4 + std::size_t{len} + 65536);
        break;
      }
      on_message(std::string_view(p + kFloorHeader, len - 2));
      rbeg_ += 4 + std::size_t{len};
      if (state_ == State::closed) return;
    }
    if (state_ != State::closed) do_read_raw();
  }

  void on_read_error(error_code ec) {
    if (state_ == State::closed) return;
    if (state_ == State::connecting) return fail("read:" + ec.message());
    const bool expected = state_ == State::leaving || w_.stopping;
    if (!expected) {
      std::string code = "closed";
      if (ws_) {
        const auto reason = ws_->reason();
        if (reason.code != 0) code += ":" + std::to_string(reason.code);
      }
      ++w_.stats.errors[code];
    }
    close(expected);
  }

  void became_ready() {
    state_ = State::ready;
    w_.on_client_ready(*this);
  }

  void on_message(std::string_view m) {
    const std::int64_t now = now_ns();
    if (state_ == State::connecting) {
      const auto type = type_of(m);
      if (type == "joined" || type == "OPEN") return became_ready();
      if (type == "error" || type == "ERROR" || type == "ID-TAKEN") {
        std::string code = field_of(m, "code");
        if (code.empty()) code = field_of(m, "msg");
        if (code.empty()) code = std::string(type);
        return fail(code);
      }
      return;  // nothing else can come first; ignore
    }
    const std::int64_t ts = find_ts(m);
    if (ts >= 0) {
      ++w_.stats.received["relay"];
      if (w_.opt.protocol == Protocol::signaling) {
        const auto tail = m.substr(m.size() > 48 ? m.size() - 48 : 0);
        if (tail.find("\"fromUserId\":\"") == std::string_view::npos) ++w_.stats.relay_missing_from;
      }
      const int k = w_.schedule.step_of(ts);
      if (k < 0) return;
      const auto& win = w_.schedule.steps[static_cast<std::size_t>(k)];
      if (ts < win.measure_start || ts >= win.measure_end) return;
      auto& st = w_.stats.steps[static_cast<std::size_t>(k)];
      if (now >= win.end) {
        ++st.late;
        return;
      }
      ++st.delivered;
      if (w_.shared_delivered)
        (*w_.shared_delivered)[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed);
      st.latency.record(now - ts);
      return;
    }
    const auto type = type_of(m);
    if (type == "heartbeat-ack" || type == "heartbeat") {
      ++w_.stats.hb_acks;
      const auto pos = m.find("\"ts\":");
      if (pos != std::string_view::npos) {
        const double sent_us = std::strtod(std::string(m.substr(pos + 5, 24)).c_str(), nullptr);
        const auto sent = static_cast<std::int64_t>(sent_us * 1000.0);
        if (w_.running && !w_.schedule.steps.empty() && now >= w_.schedule.steps[0].measure_start &&
            now < w_.schedule.steps[0].measure_end) {
          ++w_.stats.hb_acks_in_window;
          w_.stats.hb_rtt.record(now - sent);
        }
      }
      return;
    }
    if (type == "error" || type == "ERROR" || type == "EXPIRE") {
      std::string code = field_of(m, "code");
      if (code.empty()) code = std::string(type);
      ++w_.stats.errors[code];
      if (w_.opt.verbose && w_.stats.errors[code] <= 3)
        std::fprintf(stderr, "signaling-load: %s got %.*s\n", slot_.user_id.c_str(),
                     static_cast<int>(std::min<std::size_t>(m.size(), 300)), m.data());
      return;
    }
    ++w_.stats.received[type.empty() ? std::string("other") : std::string(type)];
  }

  void do_write() {
    if (queue_.empty() || state_ == State::closed) {
      writing_ = false;
      return;
    }
    writing_ = true;
    if (ws_) {
      ws_->text(true);
      ws_->async_write(asio::buffer(queue_.front()),
                       [self = shared_from_this()](error_code e, std::size_t n) {
                         if (e) return self->on_write_error(e);
                         self->w_.stats.bytes_sent += n;
                         self->queue_.pop_front();
                         self->do_write();
                       });
      return;
    }
    // The floor: gather everything queued into one write.
    inflight_.clear();
    while (!queue_.empty() && inflight_.size() < 64) {
      inflight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    bufs_.clear();
    for (const auto& s : inflight_)
      bufs_.push_back(asio::buffer(s));
    asio::async_write(*raw_, bufs_, [self = shared_from_this()](error_code e, std::size_t n) {
      if (e) return self->on_write_error(e);
      self->w_.stats.bytes_sent += n;
      self->do_write();
    });
  }
  void on_write_error(error_code ec) {
    writing_ = false;
    if (state_ == State::closed) return;
    if (state_ != State::leaving && !w_.stopping) ++w_.stats.errors["write:" + ec.message()];
    close(state_ == State::leaving || w_.stopping);
  }

  Worker& w_;
  const Slot& slot_;
  std::size_t slot_index_;
  State state_ = State::idle;
  std::int64_t t_start_ = 0;
  std::optional<websocket::stream<tcp::socket>> ws_;
  std::optional<tcp::socket> raw_;
  beast::flat_buffer rbuf_;
  std::vector<char> raw_buf_ = std::vector<char>(65536);
  std::size_t rbeg_ = 0, rend_ = 0;
  std::string handshake_;
  std::deque<std::string> queue_;
  std::vector<std::string> inflight_;
  std::vector<asio::const_buffer> bufs_;
  bool writing_ = false;
  std::size_t seq_ = 0;
  asio::steady_timer hold_timer_;
};

// ---------------------------------------------------------------------------------------------
// Worker

Worker::Worker(const Options& o, const Templates& t, std::size_t index, double rate_share)
    : opt(o),
      templates(t),
      index_(index),
      rate_share_(rate_share),
      connect_timer_(ioc),
      pace_timer_(ioc),
      hb_timer_(ioc) {}

Worker::~Worker() {
  if (thread_.joinable()) {
    ioc.stop();
    thread_.join();
  }
}

void Worker::add_slot(const Slot* slot) {
  slots_.push_back(slot);
}

void Worker::start_thread() {
  stats.steps.resize(std::max<std::size_t>(1, opt.mode == Mode::relay ? opt.rates.size() : 1));
  thread_ = std::thread([this] {
    // Timers fire within 1 us instead of the default 50 us slack: the pacer's precision.
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    auto guard = asio::make_work_guard(ioc);
    ioc.run();
  });
}

std::string Worker::id_of(std::size_t gid) const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "u%08zu", gid);
  return opt.prefix + buf;
}

std::optional<asio::ip::address_v4> Worker::next_source() {
  if (opt.source_addrs == 0) return std::nullopt;
  // 127.0.0.2 .. 127.0.0.(N+1); workers start at different offsets.
  const std::size_t k = (source_rr_++ + index_ * 7) % opt.source_addrs;
  return asio::ip::address_v4(static_cast<asio::ip::address_v4::uint_type>(0x7F000002u + k));
}

void Worker::begin_connect() {
  asio::post(ioc, [this] {
    if (opt.mode == Mode::join) {
      for (std::size_t i = slots_.size(); i-- > 0;)
        free_slots_.push_back(i);
      return;
    }
    clients_.resize(slots_.size());
    connect_next_due_ = now_ns();
    connect_tick();
    if (opt.mode == Mode::hold) {
      hb_next_due_ = now_ns();
      heartbeat_tick();
    }
  });
}

void Worker::connect_tick() {
  const double per_worker = opt.connect_rate * rate_share_;
  const auto interval = static_cast<std::int64_t>(1e9 / std::max(per_worker, 1.0));
  const std::int64_t now = now_ns();
  while (next_connect_ < slots_.size() && connect_next_due_ <= now &&
         connect_inflight_ < opt.connect_inflight) {
    auto c = std::make_shared<Client>(*this, *slots_[next_connect_], next_connect_);
    clients_[next_connect_] = c;
    ++next_connect_;
    ++connect_inflight_;
    connect_next_due_ += interval;
    c->connect();
  }
  if (next_connect_ >= slots_.size()) return;
  if (connect_next_due_ < now - 100'000'000) connect_next_due_ = now;  // do not burst after a stall
  connect_timer_.expires_at(std::chrono::steady_clock::time_point(
      std::chrono::nanoseconds(std::max(connect_next_due_, now + 200'000))));
  connect_timer_.async_wait([this](error_code e) {
    if (!e) connect_tick();
  });
}

void Worker::on_client_ready(Client& c) {
  if (opt.mode == Mode::join) {
    const std::int64_t now = now_ns();
    ++stats.joins_ok;
    const auto& w = schedule.steps[0];
    if (c.started_at() >= w.measure_start && c.started_at() < w.measure_end)
      stats.join_latency.record(now - c.started_at());
    c.start_hold_timer(opt.join_hold_ms);
    return;
  }
  ++stats.connect_ok;
  --connect_inflight_;
  connected.fetch_add(1);
  if (next_connect_ < slots_.size()) connect_tick();
}

void Worker::on_client_failed(Client& c, const std::string& code) {
  if (code == "fd_limit") stats.fd_limit = true;
  ++stats.fail_codes[code];
  if (opt.verbose && stats.fail_codes[code] <= 3)
    std::fprintf(stderr, "signaling-load: %s failed: %s\n", c.slot().user_id.c_str(), code.c_str());
  if (opt.mode == Mode::join) {
    ++stats.joins_failed;
    free_slots_.push_back(c.slot_index());
    return;
  }
  ++stats.connect_fail;
  --connect_inflight_;
  failed.fetch_add(1);
  if (next_connect_ < slots_.size()) connect_tick();
}

void Worker::on_client_closed(Client& c, bool expected) {
  if (!expected) ++stats.closed_unexpected;
  if (opt.mode == Mode::join) free_slots_.push_back(c.slot_index());
}

void Worker::begin_run(const Schedule& s) {
  asio::post(ioc, [this, s] {
    schedule = s;
    running = true;
    if (opt.mode == Mode::relay) {
      pace_next_due_ = schedule.steps.front().start;
      relay_tick();
    } else if (opt.mode == Mode::join) {
      pace_next_due_ = schedule.steps.front().start;
      join_tick();
    }
  });
}

void Worker::relay_tick() {
  std::int64_t now = now_ns();
  std::size_t batch = 0;
  while (pace_next_due_ <= now && pace_next_due_ < schedule.end_all) {
    const int k = schedule.step_of(pace_next_due_);
    if (k < 0) break;
    const auto ku = static_cast<std::size_t>(k);
    const auto& win = schedule.steps[ku];
    if (pace_next_due_ >= win.measure_end) {  // drain gap: no sends
      pace_next_due_ = win.end;
      continue;
    }
    if (saturated_from_ < 0 && opt.stop_when_saturated && ku > 0 && shared_offered) {
      const auto off = (*shared_offered)[ku - 1].load(std::memory_order_relaxed);
      const auto del = (*shared_delivered)[ku - 1].load(std::memory_order_relaxed);
      if (off > 0 && static_cast<double>(del) < 0.5 * static_cast<double>(off)) saturated_from_ = k;
    }
    if (saturated_from_ >= 0 && k >= saturated_from_) {
      pace_next_due_ = schedule.end_all;
      break;
    }
    const double rate = win.rate * rate_share_;
    if (rate <= 0 || clients_.empty()) {
      pace_next_due_ = win.end;
      continue;
    }
    const bool in_window = pace_next_due_ >= win.measure_start;
    // Round-robin over this worker's clients; each sends to its peers in turn.
    Client* c = nullptr;
    for (std::size_t tries = 0; tries < clients_.size() && !c; ++tries) {
      auto* cand = clients_[pace_rr_++ % clients_.size()].get();
      if (cand && cand->state() == Client::State::ready) c = cand;
    }
    if (!c) break;
    const std::size_t seq = c->next_seq();
    const std::size_t n = opt.session_size;
    const std::size_t gid = c->slot().gid;
    const std::size_t member = gid % n;
    const std::size_t peer_member = (member + 1 + seq % (n - 1)) % n;
    const std::size_t peer_gid = gid - member + peer_member;
    Kind kind = Kind::ice;
    if (seq % opt.sdp_every == 0) kind = (seq / opt.sdp_every) % 2 == 0 ? Kind::offer : Kind::answer;
    std::string msg = templates.make(kind, seq / (2 * opt.sdp_every), pace_next_due_, id_of(peer_gid),
                                     static_cast<std::uint16_t>(peer_member));
    const bool ok = c->send(std::move(msg));
    if (in_window) {
      auto& st = stats.steps[ku];
      ++st.offered;
      if (shared_offered) (*shared_offered)[ku].fetch_add(1, std::memory_order_relaxed);
      if (!ok) ++st.dropped;
      st.lag.record(now - pace_next_due_);
    }
    pace_next_due_ += static_cast<std::int64_t>(1e9 / rate);
    if (++batch >= 256) {
      // Let reads and writes run, then come back at once.
      asio::post(ioc, [this] { relay_tick(); });
      return;
    }
  }
  if (pace_next_due_ >= schedule.end_all) return;
  pace_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(pace_next_due_)));
  pace_timer_.async_wait([this](error_code e) {
    if (!e) relay_tick();
  });
}

void Worker::heartbeat_tick() {
  const std::int64_t now = now_ns();
  const double per_s = static_cast<double>(clients_.size()) / (opt.hb_interval_ms / 1000.0);
  if (clients_.empty() || per_s <= 0) return;
  const auto interval = static_cast<std::int64_t>(1e9 / per_s);
  if (hb_next_due_ < now - 1'000'000'000) hb_next_due_ = now;
  while (hb_next_due_ <= now) {
    auto* c = clients_[hb_rr_++ % clients_.size()].get();
    hb_next_due_ += interval;
    if (!c || c->state() != Client::State::ready) continue;
    const double ts_us = static_cast<double>(now) / 1000.0;
    char buf[96];
    std::string msg;
    if (opt.protocol == Protocol::peerjs) {
      msg = R"({"type":"HEARTBEAT"})";
    } else {
      std::snprintf(buf, sizeof buf, R"({"type":"heartbeat","ts":%.0f})", ts_us);
      msg = buf;
      if (opt.protocol == Protocol::floor) {
        std::string frame(kFloorHeader, '\0');
        const auto len = static_cast<std::uint32_t>(msg.size() + 2);
        std::memcpy(frame.data(), &len, 4);
        std::memcpy(frame.data() + 4, &kFloorEcho, 2);
        msg = frame + msg;
      }
    }
    if (c->send(std::move(msg))) ++stats.hb_sent;
  }
  if (running && now >= schedule.end_all) return;
  hb_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(hb_next_due_)));
  hb_timer_.async_wait([this](error_code e) {
    if (!e) heartbeat_tick();
  });
}

void Worker::join_tick() {
  const std::int64_t now = now_ns();
  const auto& win = schedule.steps[0];
  const double rate = win.rate * rate_share_;
  if (rate <= 0) return;
  const auto interval = static_cast<std::int64_t>(1e9 / rate);
  while (pace_next_due_ <= now && pace_next_due_ < win.measure_end) {
    pace_next_due_ += interval;
    if (free_slots_.empty()) {
      ++stats.joins_no_slot;
      continue;
    }
    const std::size_t i = free_slots_.back();
    free_slots_.pop_back();
    start_join(i);
  }
  if (pace_next_due_ >= win.measure_end) return;
  pace_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(pace_next_due_)));
  pace_timer_.async_wait([this](error_code e) {
    if (!e) join_tick();
  });
}

void Worker::start_join(std::size_t slot_index) {
  ++stats.joins_started;
  auto c = std::make_shared<Client>(*this, *slots_[slot_index], slot_index);
  // Keep the client alive while it runs: its handlers hold it; remember it for the final close.
  join_clients_.push_back(c);
  if (join_clients_.size() > 4 * slots_.size() + 64) {
    std::erase_if(join_clients_, [](const auto& p) { return p->state() == Client::State::closed; });
  }
  c->connect();
}

void Worker::stop() {
  asio::post(ioc, [this] {
    stopping = true;
    running = false;
    connect_timer_.cancel();
    pace_timer_.cancel();
    hb_timer_.cancel();
    for (auto& c : clients_)
      if (c) c->close(true);
    for (auto& c : join_clients_)
      c->close(true);
    asio::post(ioc, [this] { ioc.stop(); });
  });
  if (thread_.joinable()) thread_.join();
  clients_.clear();
  join_clients_.clear();
}

}  // namespace load
