#include "redis/cluster_client.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "redis/command_channel.hpp"
#include "redis/url.hpp"

namespace sig::redis {

namespace asio = boost::asio;
using cluster::NodeAddress;

namespace {
// A command is sent at most this many times (redirections and retries together), and waits at
// most kMaxWaits times between tries.
constexpr int kMaxAttempts = 16;
constexpr int kMaxWaits = 12;
// Retry delays: 10 ms doubling to 640 ms: about 5 s in all over kMaxWaits, which a primary's
// failover with a short cluster-node-timeout fits in.
constexpr std::chrono::milliseconds kRetryMin{10};
constexpr std::chrono::milliseconds kRetryMax{640};

// Sent again only when it certainly did not run: never written to a connection (the channel was
// not ready). A command written and then lost with its connection (connection_lost, timeout, or
// closed: the node left the map) may have run; running it twice would repeat its effects (a join
// script finding its own connection as the previous one, a relay published twice): it gets the
// error, as with the one-server client.
bool retryable(std::error_code ec) {
  return ec == Errc::not_connected;
}
}  // namespace

struct ClusterClient::Request {
  std::string resp;                                  // the formatted command
  std::optional<std::uint16_t> slot;                 // none: any primary
  std::shared_ptr<const detail::ScriptData> script;  // EVALSHA: NOSCRIPT handled by the channel
  ReplyCallback cb;
  int attempts = 0;       // sends
  int waits = 0;          // backoff waits
  bool counted = false;   // in outstanding_ and unanswered_
  std::uint64_t seq = 0;  // submission order
  std::chrono::milliseconds delay = kRetryMin;
};

namespace detail {

std::string node_url(const RedisUrl& base, const NodeAddress& node) {
  RedisUrl url = base;
  url.host = node.host;
  url.port = node.port;
  url.db = 0;  // a cluster has only db 0
  return url.to_string(true);
}

std::vector<NodeAddress> parse_seeds(const std::vector<std::string>& seeds, std::string* why) {
  std::vector<NodeAddress> out;
  for (const auto& seed : seeds) {
    std::optional<NodeAddress> address;
    if (seed.find("://") != std::string::npos) {
      if (auto url = parse_redis_url(seed, why); url) address = NodeAddress{url->host, url->port};
    } else {
      address = cluster::parse_address(seed);
    }
    if (!address || address->host.empty()) {
      if (why != nullptr && why->empty()) *why = "bad cluster seed (want host:port): " + seed;
      return {};
    }
    out.push_back(std::move(*address));
  }
  return out;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Construction and state

std::shared_ptr<ClusterClient> ClusterClient::create(const asio::any_io_executor& ex, Endpoints endpoints) {
  return std::make_shared<ClusterClient>(Private{}, ex, std::move(endpoints));
}

ClusterClient::ClusterClient(Private, const asio::any_io_executor& ex, Endpoints endpoints)
    : strand_(asio::make_strand(ex)), endpoints_(std::move(endpoints)), refresh_timer_(strand_) {}

ClusterClient::~ClusterClient() {
  // The channels hold no reference to us; closing them fails what they still hold.
  for (auto& [name, node] : nodes_)
    node.channel->close();
  for (auto& request : barriers_) {
    if (request->cb) asio::post(strand_, [cb = std::move(request->cb)] { cb(Errc::closed, Reply{}); });
  }
}

void ClusterClient::on_connected(EventCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    self->on_connected_ = std::move(cb);
  });
}
void ClusterClient::on_disconnected(DisconnectCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    self->on_disconnected_ = std::move(cb);
  });
}
void ClusterClient::on_reconnected(EventCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    self->on_reconnected_ = std::move(cb);
  });
}
void ClusterClient::on_map(std::function<void(const cluster::SlotMap&)> cb) {
  asio::dispatch(
      strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable { self->on_map_ = std::move(cb); });
}
void ClusterClient::refresh_map() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    self->degrade();  // the caller saw something wrong (a subscription's shard unreachable)
    self->refresh();
  });
}
void ClusterClient::preload(const Script& script) {
  scripts_.push_back(detail::ScriptAccess::data(script));
}

std::error_code ClusterClient::start(StartCallback on_first_result) {
  std::string why;
  auto url = parse_redis_url(endpoints_.options.url, &why);
  if (!url) {
    log::error("invalid redis url", {{"client", endpoints_.options.name}, {"error", why}});
    return Errc::invalid_url;
  }
  auto seeds = detail::parse_seeds(endpoints_.cluster_seeds, &why);
  if (seeds.empty()) {
    log::error("invalid redis cluster seeds", {{"client", endpoints_.options.name}, {"error", why}});
    return Errc::invalid_url;
  }
  if (url->tls) {
    if (const auto ec = check_tls_options(endpoints_.options.tls, &why); ec) {
      log::error("redis tls settings refused", {{"client", endpoints_.options.name}, {"error", why}});
      return ec;
    }
  }
  asio::dispatch(strand_, [self = shared_from_this(), url = std::move(*url), seeds = std::move(seeds),
                           first = std::move(on_first_result)]() mutable {
    if (self->started_ || self->closed_) {
      if (first) asio::post(self->strand_, [first = std::move(first)] { first(Errc::invalid_argument); });
      return;
    }
    self->started_ = true;
    self->url_ = std::move(url);
    self->seeds_ = std::move(seeds);
    self->first_cb_ = std::move(first);
    // The first result: the first map, or an error once every seed's first attempt failed.
    auto failures = std::make_shared<std::size_t>(0);
    for (const auto& seed : self->seeds_) {
      self->node(seed, [weak = std::weak_ptr<ClusterClient>(self), failures](std::error_code ec) {
        auto me = weak.lock();
        if (!ec || !me || ++*failures < me->seeds_.size() || me->have_map_) return;
        if (me->first_cb_) std::exchange(me->first_cb_, nullptr)(ec);
      });
    }
    self->refresh();
    self->arm_refresh_timer();
  });
  return {};
}

void ClusterClient::close() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->do_close(); });
}

void ClusterClient::do_close() {
  if (closed_) return;
  closed_ = true;
  connected_.store(false, std::memory_order_release);
  refresh_timer_.cancel();
  for (auto& [name, node] : nodes_)
    node.channel->close();  // pending commands: Errc::closed, then finish() (closed_ is set)
  nodes_.clear();
  wake_waiting();  // their timers see closed_: Errc::closed
  for (auto& request : std::exchange(barriers_, {}))
    finish(request, Errc::closed, {});
  if (first_cb_) std::exchange(first_cb_, nullptr)(Errc::closed);
  on_connected_ = nullptr;
  on_reconnected_ = nullptr;
  on_disconnected_ = nullptr;
  on_map_ = nullptr;
}

ClusterClient::Node& ClusterClient::node(const NodeAddress& address, StartCallback first) {
  const std::string key = address.to_string();
  if (auto it = nodes_.find(key); it != nodes_.end()) return it->second;
  ClientOptions options = endpoints_.options;
  options.url = detail::node_url(url_, address);
  options.name = endpoints_.options.name + "@" + key;
  auto channel = std::make_shared<detail::CommandChannel>(strand_, std::move(options));
  for (const auto& script : scripts_)
    channel->preload(script);
  const std::weak_ptr<ClusterClient> weak = shared_from_this();
  channel->set_on_connected([weak] {
    if (auto self = weak.lock()) {
      if (!self->have_map_ || self->suspect_) self->refresh();
      self->update_state({});
    }
  });
  channel->set_on_disconnected([weak](std::error_code why) {
    if (auto self = weak.lock()) {
      self->degrade();  // a primary gone: maybe a failover; ask every degraded period until over
      self->update_state(why);
      self->refresh();
    }
  });
  channel->start(std::move(first));
  return nodes_.emplace(key, Node{std::move(channel)}).first->second;
}

// connected(): a map, and every primary of it ready. Fires the callbacks on a change.
void ClusterClient::update_state(std::error_code why) {
  if (closed_) return;
  bool all = have_map_ && cluster_ok_ && !map_.primaries().empty();
  for (const auto& primary : map_.primaries()) {
    const auto it = nodes_.find(primary.to_string());
    all = all && it != nodes_.end() && it->second.channel->ready();
  }
  const bool was = connected_.exchange(all, std::memory_order_acq_rel);
  if (all && !was) {
    const bool again = ever_connected_;
    ever_connected_ = true;
    log::info(again ? "redis cluster reconnected" : "redis cluster connected",
              {{"client", endpoints_.options.name},
               {"primaries", static_cast<std::uint64_t>(map_.primaries().size())}});
    wake_waiting();  // commands waiting for a retry: every primary is reachable now
    if (first_cb_) std::exchange(first_cb_, nullptr)(std::error_code{});
    if (auto cb = on_connected_) cb();
    if (auto cb = on_reconnected_; again && cb && !closed_) cb();
  } else if (!all && was) {
    log::warn("redis cluster degraded", {{"client", endpoints_.options.name}, {"error", why.message()}});
    if (auto cb = on_disconnected_) cb(why ? why : std::error_code(Errc::connection_lost));
  }
  // Not connected: the timer must tick with the degraded period (it may be armed with the
  // healthy one, 15 s by default, which a failover would otherwise wait for).
  if (!all && started_ && !timer_fast_) arm_refresh_timer();
}

void ClusterClient::degrade() {
  if (closed_ || !started_) return;
  suspect_ = true;
  ++errors_;
  if (!timer_fast_) arm_refresh_timer();
}

void ClusterClient::wake_waiting() {
  for (auto& weak : std::exchange(waiting_, {})) {
    if (auto timer = weak.lock()) timer->cancel();  // its handler routes the request now
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

void ClusterClient::command(std::span<const std::string_view> args, ReplyCallback cb) {
  if (args.empty() || detail::is_forbidden_on_command_link(args.front())) {
    if (cb) asio::post(strand_, [cb = std::move(cb)] { cb(Errc::invalid_argument, Reply{}); });
    return;
  }
  auto request = std::make_shared<Request>();
  request->resp = detail::format_command(args);
  if (const auto i = cluster::key_index(args); i) request->slot = cluster::key_slot(args[*i]);
  request->cb = std::move(cb);
  submit(std::move(request));
}

void ClusterClient::eval(const Script& script, std::span<const std::string_view> keys,
                         std::span<const std::string_view> args, ReplyCallback cb) {
  auto request = std::make_shared<Request>();
  auto p = detail::make_eval(script, keys, args, {}, request->resp);
  request->script = std::move(p->script);
  if (!keys.empty()) request->slot = cluster::key_slot(keys.front());
  request->cb = std::move(cb);
  submit(std::move(request));
}

void ClusterClient::submit(std::shared_ptr<Request> request) {
  asio::dispatch(strand_, [self = shared_from_this(), request = std::move(request)] {
    if (self->closed_) {
      self->finish(request, Errc::closed, {});
      return;
    }
    const auto limit = self->endpoints_.options.max_pending;
    if (limit != 0 && self->outstanding_ >= limit) {
      self->finish(request, Errc::too_many_pending, {});
      return;
    }
    ++self->outstanding_;
    request->counted = true;
    request->seq = self->next_seq_++;
    self->unanswered_.insert(request->seq);
    if (!request->slot && *self->unanswered_.begin() < request->seq) {
      self->barriers_.push_back(request);  // a barrier: sent once the older ones are answered
      return;
    }
    self->route(request);
  });
}

void ClusterClient::route(const std::shared_ptr<Request>& request) {
  const NodeAddress* target = nullptr;
  if (request->slot) {
    target = map_.node_for(*request->slot);
  } else if (!map_.primaries().empty()) {
    target = &map_.primaries()[static_cast<std::size_t>(request->attempts) % map_.primaries().size()];
  }
  if (target == nullptr) {
    degrade();
    retry_later(request, Errc::not_connected, {});
    return;
  }
  send_to(*target, request, false);
}

void ClusterClient::send_to(const NodeAddress& address, const std::shared_ptr<Request>& request,
                            bool asking) {
  ++request->attempts;
  auto& channel = *node(address).channel;
  if (asking) {
    channel.send_now(detail::format_command(std::array<std::string_view, 1>{"ASKING"}),
                     detail::make_command({}));
  }
  auto p = detail::make_command([weak = std::weak_ptr<ClusterClient>(shared_from_this()), request, address](
                                    std::error_code ec, Reply reply) {
    if (auto self = weak.lock()) {
      self->on_reply(request, address, ec, std::move(reply));
    } else if (request->cb) {
      request->cb(Errc::closed, Reply{});
    }
  });
  if (request->script) {
    p->script = request->script;
    p->resend = request->resp;
  }
  channel.send_now(request->resp, std::move(p));
}

void ClusterClient::on_reply(const std::shared_ptr<Request>& request, const NodeAddress& from,
                             std::error_code ec, Reply reply) {
  if (closed_) {
    finish(request, Errc::closed, {});
    return;
  }
  if (ec == Errc::server_error) {
    if (auto redirect = cluster::parse_redirect(reply.str); redirect && request->attempts < kMaxAttempts) {
      if (redirect->node.host.empty()) redirect->node.host = from.host;
      if (redirect->kind == cluster::Redirect::Kind::moved) {
        // The slot moved for good: point it at its new owner now, and re-read the whole map.
        if (!map_.assign(redirect->slot, redirect->node)) log::warn("redis cluster map full", {});
        refresh();
        send_to(redirect->node, request, false);
      } else {
        send_to(redirect->node, request, true);  // a migration under way: this command only
      }
      return;
    }
    if (cluster::is_transient_cluster_error(reply.str)) {
      degrade();  // -CLUSTERDOWN / -TRYAGAIN: a failover under way, maybe
      if (reply.str.starts_with("CLUSTERDOWN")) {
        // Not serving: writes are refused (or lost); connected again once a node says ok.
        cluster_ok_ = false;
        update_state(ec);
        refresh();
      }
      retry_later(request, ec, std::move(reply));
      return;
    }
  }
  const bool lost = ec == Errc::connection_lost || ec == Errc::timeout || ec == Errc::closed;
  if (lost || retryable(ec)) {
    degrade();  // a primary gone or not ready, maybe a failover: ask for the map again
    refresh();
  }
  if (retryable(ec)) {
    retry_later(request, ec, std::move(reply));
    return;
  }
  finish(request, ec, std::move(reply));
}

void ClusterClient::retry_later(const std::shared_ptr<Request>& request, std::error_code ec, Reply reply) {
  if (request->attempts >= kMaxAttempts || request->waits >= kMaxWaits || closed_) {
    finish(request, closed_ ? std::error_code(Errc::closed) : ec, std::move(reply));
    return;
  }
  ++request->waits;
  auto timer = std::make_shared<asio::steady_timer>(strand_, request->delay);
  std::erase_if(waiting_, [](const auto& weak) { return weak.expired(); });
  waiting_.push_back(timer);
  request->delay =
      std::min(request->delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kRetryMax));
  timer->async_wait([weak = std::weak_ptr<ClusterClient>(shared_from_this()), request,
                     timer](const boost::system::error_code&) {
    auto self = weak.lock();
    if (!self) {
      if (request->cb) std::exchange(request->cb, nullptr)(Errc::closed, Reply{});
      return;
    }
    if (self->closed_) {
      self->finish(request, Errc::closed, {});
      return;
    }
    self->route(request);
  });
}

void ClusterClient::finish(const std::shared_ptr<Request>& request, std::error_code ec, Reply reply) {
  const bool counted = request->counted;
  if (counted) {
    if (outstanding_ > 0) --outstanding_;
    unanswered_.erase(request->seq);
  }
  request->counted = false;
  if (request->cb) {
    // Posted in finishing order: a barrier's callback runs after those of the commands before it.
    auto cb = std::exchange(request->cb, nullptr);
    asio::post(strand_,
               [cb = std::move(cb), ec, reply = std::move(reply)]() mutable { cb(ec, std::move(reply)); });
  }
  if (counted) release_barriers();
}

void ClusterClient::release_barriers() {
  while (!barriers_.empty() && !closed_) {
    auto request = barriers_.front();
    if (*unanswered_.begin() < request->seq) return;  // an older command is still unanswered
    barriers_.pop_front();
    route(request);
  }
}

}  // namespace sig::redis
