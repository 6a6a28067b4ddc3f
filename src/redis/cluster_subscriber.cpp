#include "redis/cluster_subscriber.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "redis/cluster_client.hpp"
#include "redis/subscription_channel.hpp"
#include "redis/url.hpp"

namespace sig::redis {

namespace asio = boost::asio;

namespace {
// A channel the server dropped while its slot still maps to the same shard (the map not yet
// refreshed) is subscribed again after this delay.
constexpr std::chrono::milliseconds kResubscribeDelay{200};
}  // namespace

std::shared_ptr<ClusterSubscriber> ClusterSubscriber::create(const asio::any_io_executor& ex,
                                                             Endpoints endpoints) {
  return std::make_shared<ClusterSubscriber>(Private{}, ex, std::move(endpoints));
}

ClusterSubscriber::ClusterSubscriber(Private, const asio::any_io_executor& ex, Endpoints endpoints)
    : strand_(asio::make_strand(ex)),
      endpoints_(std::move(endpoints)),
      retry_timer_(strand_),
      map_timer_(strand_) {
  Endpoints for_map = endpoints_;
  for_map.options.name += "-map";
  map_client_ = ClusterClient::create(ex, std::move(for_map));
}

ClusterSubscriber::~ClusterSubscriber() {
  map_client_->close();
  for (auto& [key, shard] : shards_)
    shard->close();
}

void ClusterSubscriber::on_connected(EventCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    self->on_connected_ = std::move(cb);
  });
}
void ClusterSubscriber::on_disconnected(DisconnectCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    self->on_disconnected_ = std::move(cb);
  });
}
void ClusterSubscriber::on_reconnected(EventCallback cb) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
    self->on_reconnected_ = std::move(cb);
  });
}

std::error_code ClusterSubscriber::start(StartCallback on_first_result) {
  map_client_->on_map(
      [weak = std::weak_ptr<ClusterSubscriber>(shared_from_this())](const cluster::SlotMap& map) {
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self, map] { self->map_changed(map); });
        }
      });
  const std::weak_ptr<ClusterSubscriber> weak = shared_from_this();
  auto first = [weak](std::error_code ec) {
    auto self = weak.lock();
    if (!self || !ec) return;  // success is reported once the shards are subscribed
    asio::post(self->strand_, [self, ec] {
      if (self->first_cb_) std::exchange(self->first_cb_, nullptr)(ec);
    });
  };
  // Set first: the map client's first failure is posted to our strand after this.
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(on_first_result)]() mutable {
    self->first_cb_ = std::move(cb);
  });
  return map_client_->start(first);
}

void ClusterSubscriber::close() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->do_close(); });
}

void ClusterSubscriber::do_close() {
  if (closed_) return;
  closed_ = true;
  connected_.store(false, std::memory_order_release);
  retry_timer_.cancel();
  map_timer_.cancel();
  map_client_->close();
  for (auto& [key, shard] : shards_)
    shard->close();
  shards_.clear();
  opening_.clear();
  for (auto& [name, entry] : channels_) {
    for (auto& done : entry.done) {
      if (done) asio::post(strand_, [done = std::move(done)] { done(Errc::closed); });
    }
  }
  channels_.clear();
  if (first_cb_) std::exchange(first_cb_, nullptr)(Errc::closed);
  on_connected_ = nullptr;
  on_reconnected_ = nullptr;
  on_disconnected_ = nullptr;
}

// ---------------------------------------------------------------------------------------------
// The desired set

void ClusterSubscriber::subscribe(std::string channel, MessageHandler handler, DoneCallback done) {
  asio::dispatch(strand_, [self = shared_from_this(), channel = std::move(channel),
                           handler = std::move(handler), done = std::move(done)]() mutable {
    if (self->closed_) {
      if (done) asio::post(self->strand_, [done = std::move(done)] { done(Errc::closed); });
      return;
    }
    Entry& entry = self->channels_[channel];
    entry.handler = std::make_shared<const MessageHandler>(std::move(handler));
    if (done) entry.done.push_back(std::move(done));
    if (self->have_map_) {
      self->place(channel, entry);
      return;
    }
    // Kept, made once the map is known; done reports not_connected now (as RedisSubscriber's
    // while disconnected), not the confirmation: see Subscriptions::subscribe.
    for (auto& d : std::exchange(entry.done, {}))
      asio::post(self->strand_, [d = std::move(d)] { d(Errc::not_connected); });
  });
}

void ClusterSubscriber::unsubscribe(std::string channel) {
  asio::dispatch(strand_, [self = shared_from_this(), channel = std::move(channel)] {
    const auto it = self->channels_.find(channel);
    if (it == self->channels_.end()) return;
    Entry entry = std::move(it->second);
    self->channels_.erase(it);
    for (auto& d : entry.done)
      asio::post(self->strand_, [d = std::move(d)] { d(Errc::cancelled); });
    if (const auto s = self->shards_.find(entry.shard); s != self->shards_.end())
      s->second->do_unsubscribe(false, channel);
  });
}

// SSUBSCRIBE on the shard owning the channel's slot now (the entry's shard is set before).
void ClusterSubscriber::place(const std::string& channel, Entry& entry) {
  const cluster::NodeAddress* owner = map_.node_for(cluster::key_slot(channel));
  if (owner == nullptr) return;  // slot not served now: placed at the next map
  const std::string key = owner->to_string();
  if (!entry.shard.empty() && (entry.shard != key || entry.lost)) {
    if (const auto s = shards_.find(entry.shard); s != shards_.end())
      s->second->do_unsubscribe(false, channel);
  }
  entry.shard = key;
  entry.lost = false;
  const std::weak_ptr<ClusterSubscriber> weak = shared_from_this();
  auto handler = [weak, channel](const std::string& ch, const std::string& message) {
    auto self = weak.lock();
    if (!self) return;
    const auto it = self->channels_.find(channel);
    if (it == self->channels_.end() || !it->second.handler) return;
    const auto h = it->second.handler;  // the handler may unsubscribe itself
    (*h)(ch, message);
  };
  auto done = [weak, channel, key](std::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    const auto it = self->channels_.find(channel);
    if (it == self->channels_.end()) return;
    if (ec == Errc::cancelled || it->second.shard != key) return;  // moved to another shard meanwhile
    // Not made yet (the shard's connection is not ready): kept, and confirmed when it is (see
    // shard()'s on_connected: a subscription channel is announced only once all its channels are).
    if (ec == Errc::not_connected || ec == Errc::connection_lost) return;
    for (auto& d : std::exchange(it->second.done, {}))
      d(ec);
  };
  shard(key)->do_subscribe(false, channel, std::move(handler), std::move(done));
}

// ---------------------------------------------------------------------------------------------
// Following the map

void ClusterSubscriber::map_changed(const cluster::SlotMap& map) {
  if (closed_) return;
  map_ = map;
  have_map_ = true;
  rebalance();
}

void ClusterSubscriber::rebalance() {
  bool moved = false;
  for (auto& [channel, entry] : channels_) {
    const cluster::NodeAddress* owner = map_.node_for(cluster::key_slot(channel));
    if (owner == nullptr) continue;
    const std::string key = owner->to_string();
    if (entry.shard == key && !entry.lost) continue;
    const bool had_shard = !entry.shard.empty();
    moved = moved || had_shard;
    place(channel, entry);
    // A channel that was subscribed elsewhere misses messages until its new shard confirms it:
    // that shard counts in connected() even while it opens.
    if (had_shard) opening_.erase(entry.shard);
  }
  // Shards left without channels (a failed-over primary, a slot that moved away) are closed.
  std::set<std::string> used;
  for (const auto& [channel, entry] : channels_)
    used.insert(entry.shard);
  for (auto it = shards_.begin(); it != shards_.end();) {
    if (used.contains(it->first)) {
      ++it;
    } else {
      it->second->close();
      opening_.erase(it->first);
      it = shards_.erase(it);
    }
  }
  update_state({}, moved);
}

// The server dropped a channel (sunsubscribe) or refused an SSUBSCRIBE (-MOVED ...).
void ClusterSubscriber::shard_lost(const std::string& shard_key, const std::string& what) {
  if (closed_) return;
  const auto redirect = cluster::parse_redirect(what);
  for (auto& [channel, entry] : channels_) {
    if (entry.shard != shard_key) continue;
    if (channel == what || (redirect && cluster::key_slot(channel) == redirect->slot)) entry.lost = true;
  }
  if (redirect) {
    // Point the slot at its new owner now (":port" means the host of the node that answered).
    cluster::NodeAddress owner = redirect->node;
    if (owner.host.empty())
      owner.host = cluster::parse_address(shard_key).value_or(cluster::NodeAddress{}).host;
    map_.assign(redirect->slot, owner);
  }
  map_client_->refresh_map();
  if (retry_armed_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(kResubscribeDelay);
  retry_timer_.async_wait(
      [weak = std::weak_ptr<ClusterSubscriber>(shared_from_this())](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self || ec || self->closed_) return;
        self->retry_armed_ = false;
        self->rebalance();
      });
}

std::shared_ptr<detail::SubscriptionChannel> ClusterSubscriber::shard(const std::string& key) {
  if (const auto it = shards_.find(key); it != shards_.end()) return it->second;
  const auto address = cluster::parse_address(key);
  auto url = parse_redis_url(endpoints_.options.url);
  ClientOptions options = endpoints_.options;
  options.name = endpoints_.options.name + "@" + key;
  if (url && address) options.url = detail::node_url(*url, *address);
  auto channel = std::make_shared<detail::SubscriptionChannel>(strand_, std::move(options), true);
  const std::weak_ptr<ClusterSubscriber> weak = shared_from_this();
  channel->set_on_lost([weak, key](const std::string& what) {
    if (auto self = weak.lock()) self->shard_lost(key, what);
  });
  channel->set_on_connected([weak, key] {
    auto self = weak.lock();
    if (!self) return;
    self->opening_.erase(key);
    for (auto& [name, entry] : self->channels_) {
      if (entry.shard != key || entry.lost) continue;
      for (auto& d : std::exchange(entry.done, {}))
        d(std::error_code{});
    }
    self->update_state({}, false);
  });
  channel->set_on_disconnected([weak](std::error_code why) {
    if (auto self = weak.lock()) {
      self->update_state(why, false);
      self->map_client_->refresh_map();  // a primary gone: maybe a failover
    }
  });
  channel->start({});
  shards_.emplace(key, channel);
  opening_.insert(key);
  arm_map_timer();  // a primary that cannot be reached may have failed over
  return channel;
}

// connected(): the map is known and every shard holding channels is subscribed — except, once
// connected, a shard still opening its first connection (channels on a primary we held none on):
// the channels subscribed elsewhere lose nothing meanwhile, and the new channels' callers wait for
// their confirmation. Counted, each new shard made a disconnection and a reconnection whenever an
// update landed while it opened, and a node re-reads every session it hosts at a reconnection.
void ClusterSubscriber::update_state(std::error_code why, bool moved) {
  if (closed_) return;
  bool all = have_map_;
  for (const auto& [key, s] : shards_)
    all = all && (s->ready() || (ever_connected_ && opening_.contains(key)));
  const bool was = connected_.exchange(all, std::memory_order_acq_rel);
  if (all && !was) {
    const bool again = ever_connected_;
    ever_connected_ = true;
    if (first_cb_) std::exchange(first_cb_, nullptr)(std::error_code{});
    if (auto cb = on_connected_) cb();
    if (auto cb = on_reconnected_; again && cb && !closed_) cb();
  } else if (!all && was) {
    if (auto cb = on_disconnected_) cb(why ? why : std::error_code(Errc::connection_lost));
  } else if (all && moved) {
    if (auto cb = on_reconnected_) cb();  // channels moved shard: messages may have been lost
  }
  if (!all || !all_shards_ready()) arm_map_timer();
}

bool ClusterSubscriber::all_shards_ready() const {
  return std::all_of(shards_.begin(), shards_.end(), [](const auto& entry) { return entry.second->ready(); });
}

void ClusterSubscriber::arm_map_timer() {
  if (map_armed_ || closed_) return;
  map_armed_ = true;
  map_timer_.expires_after(endpoints_.cluster_refresh_degraded);
  map_timer_.async_wait(
      [weak = std::weak_ptr<ClusterSubscriber>(shared_from_this())](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self || ec || self->closed_) return;
        self->map_armed_ = false;
        if (self->connected() && self->all_shards_ready()) return;
        // The map client's own connections may all be fine (it refreshes fast only while it sees
        // trouble itself): ask it again for as long as a shard of ours is down.
        self->map_client_->refresh_map();
        self->arm_map_timer();
      });
}

}  // namespace sig::redis
