#include "redis/subscription_channel.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <utility>

#include <hiredis/hiredis.h>
#include <boost/asio/dispatch.hpp>

#include "common/log.hpp"
#include "redis/client.hpp"
#include "redis/cluster_map.hpp"

namespace sig::redis {
namespace detail {

namespace {
Connection::Traits subscriber_traits(bool sharded) {
  Connection::Traits traits;
  traits.select_db = false;  // pub/sub ignores the db (and a cluster has only db 0)
  traits.own_reader = sharded;
  return traits;
}
}  // namespace

SubscriptionChannel::SubscriptionChannel(Strand strand, ClientOptions options, bool sharded)
    : Connection(std::move(strand), std::move(options), subscriber_traits(sharded)), sharded_(sharded) {
  static std::atomic<std::uint64_t> counter{0};
  health_channel_ = "__sig_redis_health__:" + std::to_string(::getpid()) + ":" + std::to_string(++counter);
}

void SubscriptionChannel::subscribe(bool pattern, std::string name, MessageHandler handler,
                                    DoneCallback done) {
  boost::asio::dispatch(strand_, [self = self_as<SubscriptionChannel>(), pattern, name = std::move(name),
                                  handler = std::move(handler), done = std::move(done)]() mutable {
    self->do_subscribe(pattern, std::move(name), std::move(handler), std::move(done));
  });
}

void SubscriptionChannel::unsubscribe(bool pattern, std::string name) {
  boost::asio::dispatch(strand_, [self = self_as<SubscriptionChannel>(), pattern, name = std::move(name)] {
    self->do_unsubscribe(pattern, name);
  });
}

std::vector<std::string> SubscriptionChannel::channel_names() const {
  std::vector<std::string> out;
  out.reserve(channels_.size());
  for (const auto& entry : channels_)
    out.push_back(entry.first);
  return out;
}

void SubscriptionChannel::done_later(DoneCallback cb, std::error_code ec) {
  if (cb) post([cb = std::move(cb), ec]() mutable { cb(ec); });
}

// (S|P)SUBSCRIBE or their UNSUBSCRIBE. Refused only while the connection is being torn down; the
// loss is then reported anyway.
bool SubscriptionChannel::write_subscribe(bool pattern, bool subscribe,
                                          const std::vector<std::string_view>& names) {
  std::vector<std::string_view> args;
  args.reserve(names.size() + 1);
  if (sharded_) {
    args.emplace_back(subscribe ? "SSUBSCRIBE" : "SUNSUBSCRIBE");
  } else if (pattern) {
    args.emplace_back(subscribe ? "PSUBSCRIBE" : "PUNSUBSCRIBE");
  } else {
    args.emplace_back(subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE");
  }
  args.insert(args.end(), names.begin(), names.end());
  return conn_->write_push(format_command(args));
}

// --- the connection's hooks -----------------------------------------------------------------

void SubscriptionChannel::handshake_done() {
  health_sent_.reset();
  last_health_ = Clock::now();
  if (channels_.empty() && patterns_.empty()) {
    announce_ready();
    return;
  }
  // Restore the subscription set, then announce (in confirm()). A cluster refuses an SSUBSCRIBE
  // whose channels are in several slots: one per channel there.
  for (const bool pattern : {false, true}) {
    SubMap& map = pattern ? patterns_ : channels_;
    std::vector<std::string_view> names;
    for (const auto& entry : map) {
      restore_pending_.emplace(pattern, entry.first);
      if (sharded_) {
        write_subscribe(pattern, true, {entry.first});
      } else {
        names.emplace_back(entry.first);
      }
    }
    if (!names.empty()) write_subscribe(pattern, true, names);
  }
}

// Health check of the subscribe-mode connection: a regular PING's reply could be confused with a
// message by hiredis 0.14, so SUBSCRIBE again to a private channel and wait for the confirmation,
// which takes the channel-callback path.
bool SubscriptionChannel::tick_ready(Clock::time_point now) {
  if (options_.command_timeout.count() <= 0) return true;
  if (health_sent_) {
    if (now - *health_sent_ >= options_.command_timeout) {
      log::warn("redis subscriber health check timed out: dropping the connection",
                {{"client", options_.name},
                 {"timeout_ms", static_cast<std::int64_t>(options_.command_timeout.count())}});
      drop_connection(Errc::timeout);
      return false;
    }
  } else if (now - last_health_ >= options_.command_timeout) {
    health_sent_ = now;
    const std::array<std::string_view, 2> args{"SUBSCRIBE", health_channel_};
    conn_->write_push(format_command(args));
  }
  return true;
}

void SubscriptionChannel::connection_lost() {
  restore_pending_.clear();
  unsub_pending_.clear();  // a new connection starts with the whole map subscribed
  deferred_.clear();
  for (SubMap* map : {&channels_, &patterns_}) {
    for (auto& [name, sub] : *map) {
      sub.confirmed = false;
      for (auto& w : sub.waiters)
        done_later(std::move(w), Errc::connection_lost);
      sub.waiters.clear();
    }
  }
}

void SubscriptionChannel::closing() {
  restore_pending_.clear();
  unsub_pending_.clear();
  deferred_.clear();
  for (SubMap* map : {&channels_, &patterns_}) {
    for (auto& [name, sub] : *map) {
      for (auto& w : sub.waiters)
        done_later(std::move(w), Errc::closed);
    }
    map->clear();
  }
  on_lost_ = nullptr;
}

// --- pushes (inside the transport: only record and post) --------------------------------------

void SubscriptionChannel::transport_push(Transport& t, const redisReply* r) {
  if (&t != conn_.get()) return;
  if (r->type == REDIS_REPLY_ERROR) {  // sharded only (push_errors): e.g. -MOVED to an SSUBSCRIBE
    post([self = self_as<SubscriptionChannel>(), what = std::string(r->str, r->len), gen = gen_] {
      self->server_dropped(what, gen);
    });
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
  auto str = [r](std::size_t i) {
    const redisReply* e = r->element[i];
    return (e != nullptr && e->type == REDIS_REPLY_STRING) ? std::string(e->str, e->len) : std::string();
  };
  const std::string kind = str(0);
  if (kind == "message" || kind == "smessage") {
    post([self = self_as<SubscriptionChannel>(), channel = str(1), payload = str(2)] {
      self->deliver(false, channel, channel, payload);
    });
  } else if (kind == "pmessage" && r->elements >= 4) {
    post([self = self_as<SubscriptionChannel>(), pattern = str(1), channel = str(2), payload = str(3)] {
      self->deliver(true, pattern, channel, payload);
    });
  } else if (kind == "subscribe" || kind == "psubscribe" || kind == "ssubscribe") {
    post([self = self_as<SubscriptionChannel>(), pattern = kind == "psubscribe", name = str(1), gen = gen_] {
      self->confirm(pattern, name, gen);
    });
  } else if (kind == "unsubscribe" || kind == "punsubscribe" || kind == "sunsubscribe") {
    post([self = self_as<SubscriptionChannel>(), pattern = kind == "punsubscribe", name = str(1),
          gen = gen_] { self->unsubscribed(pattern, name, gen); });
  }
}

// The confirmation of an UNSUBSCRIBE: ours (counted in do_unsubscribe), or, sharded, the server
// dropping a channel we still want (its slot moved). A channel unsubscribed and subscribed again
// before the confirmation is not a drop: taking it for one made each re-subscription end in the
// next "drop" (a hot loop).
void SubscriptionChannel::unsubscribed(bool pattern, const std::string& name, std::uint64_t gen) {
  if (gen != gen_) return;
  const auto key = std::make_pair(pattern, name);
  const auto it = unsub_pending_.find(key);
  if (it == unsub_pending_.end()) {
    if (sharded_ && channels_.contains(name)) server_dropped(name, gen);
    return;
  }
  if (--it->second > 0) return;
  unsub_pending_.erase(it);
  // Subscribed again meanwhile: the SUBSCRIBE can go now.
  if (deferred_.erase(key) == 1 && state_ == State::ready && conn_) {
    SubMap& map = pattern ? patterns_ : channels_;
    const auto sub = map.find(name);
    if (sub != map.end() && !write_subscribe(pattern, true, {sub->first})) {
      for (auto& w : sub->second.waiters)
        done_later(std::move(w), Errc::not_connected);
      sub->second.waiters.clear();
    }
  }
}

void SubscriptionChannel::server_dropped(const std::string& what, std::uint64_t gen) {
  if (gen != gen_ || state_ != State::ready) return;
  // A -MOVED may answer one of our SUNSUBSCRIBEs (the slot left this shard): counted as its
  // confirmation, or a later SSUBSCRIBE of that channel here would wait for ever.
  if (const auto redirect = cluster::parse_redirect(what); redirect) {
    const auto it = std::find_if(unsub_pending_.begin(), unsub_pending_.end(), [&](const auto& entry) {
      return cluster::key_slot(entry.first.second) == redirect->slot;
    });
    if (it != unsub_pending_.end()) unsubscribed(it->first.first, std::string(it->first.second), gen);
  }
  log::info("redis shard gave up a subscription", {{"client", options_.name}, {"what", what}});
  if (auto cb = on_lost_) cb(what);
}

void SubscriptionChannel::deliver(bool pattern, const std::string& key, const std::string& channel,
                                  const std::string& payload) {
  SubMap& map = pattern ? patterns_ : channels_;
  const auto it = map.find(key);
  if (it == map.end() || !it->second.handler) return;
  const auto handler = it->second.handler;  // the handler may unsubscribe itself
  (*handler)(channel, payload);
}

void SubscriptionChannel::confirm(bool pattern, const std::string& name, std::uint64_t gen) {
  if (gen != gen_ || state_ != State::ready) return;
  if (!pattern && name == health_channel_) {
    health_sent_.reset();
    last_health_ = Clock::now();
    return;
  }
  SubMap& map = pattern ? patterns_ : channels_;
  // With an UNSUBSCRIBE of ours pending, this confirms an earlier SUBSCRIBE which that undoes.
  const bool undone = unsub_pending_.contains({pattern, name});
  if (auto it = map.find(name); it != map.end() && !undone) {
    it->second.confirmed = true;
    auto waiters = std::move(it->second.waiters);
    it->second.waiters.clear();
    for (auto& w : waiters) {
      if (w) w(std::error_code{});
    }
  }
  if (!restore_pending_.empty() && restore_pending_.erase({pattern, name}) == 1 && restore_pending_.empty()) {
    if (state_ == State::ready && !ready_flag_.load(std::memory_order_relaxed)) announce_ready();
  }
}

// --- the desired set ---------------------------------------------------------------------------

void SubscriptionChannel::do_subscribe(bool pattern, std::string name, MessageHandler handler,
                                       DoneCallback done) {
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
  if (unsub_pending_.contains({pattern, it->first})) {
    deferred_.emplace(pattern, it->first);  // written once our UNSUBSCRIBE is confirmed
    return;
  }
  if (!write_subscribe(pattern, true, {it->first})) {
    for (auto& w : it->second.waiters)
      done_later(std::move(w), Errc::not_connected);
    it->second.waiters.clear();
  }
}

void SubscriptionChannel::do_unsubscribe(bool pattern, const std::string& name) {
  SubMap& map = pattern ? patterns_ : channels_;
  const auto it = map.find(name);
  if (it == map.end()) return;
  for (auto& w : it->second.waiters)
    done_later(std::move(w), Errc::cancelled);
  map.erase(it);
  // A deferred SUBSCRIBE was never written: nothing to undo.
  if (deferred_.erase({pattern, name}) == 1) return;
  // Every other entry of the map was SUBSCRIBEd on the current connection when it is ready, so
  // hiredis knows the channel (hiredis 0.14 must not see an UNSUBSCRIBE for an unknown one).
  if (state_ == State::ready && conn_ && write_subscribe(pattern, false, {name}))
    ++unsub_pending_[{pattern, name}];
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// RedisSubscriber: the facade of one SubscriptionChannel on its own strand.

struct RedisSubscriber::Private {};

std::shared_ptr<RedisSubscriber> RedisSubscriber::create(const boost::asio::any_io_executor& ex,
                                                         ClientOptions options) {
  return std::make_shared<RedisSubscriber>(Private{}, ex, std::move(options));
}

RedisSubscriber::RedisSubscriber(Private, const boost::asio::any_io_executor& ex, ClientOptions options)
    : link_(std::make_shared<detail::SubscriptionChannel>(boost::asio::make_strand(ex), std::move(options),
                                                          false)) {}

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
