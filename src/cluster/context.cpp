#include "cluster/context.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/asio/strand.hpp>

#include "cluster/deadlines.hpp"
#include "common/log.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

void ignore_reply(std::error_code, const redis::Reply&) {}

Context::Context(const boost::asio::any_io_executor& ex, const domain::Clock& c, NodeOptions o,
                 domain::EventSink* events)
    : options(std::move(o)),
      layout(!options.redis_cluster_seeds.empty()),
      clock(c),
      gate(events),
      strand(boost::asio::make_strand(ex)) {
  redis::Endpoints e;
  e.options.url = options.redis_url;
  e.options.tls = options.redis_tls;
  e.options.name = "redis";
  e.cluster_seeds = options.redis_cluster_seeds;
  client = redis::make_commands(strand, e);
  e.options.name = "redis-pubsub";
  sub = redis::make_subscriptions(strand, e);
  if (!client || !sub) throw std::runtime_error("this build has no Redis Cluster client");

  // The node id claim and its fence.
  claim =
      std::make_unique<NodeClaim>([c = client](const redis::Script& s, std::span<const std::string_view> k,
                                               std::span<const std::string_view> a,
                                               redis::ReplyCallback cb) { c->eval(s, k, a, std::move(cb)); },
                                  layout.alive(options.node_id), options.node_ttl);
  fence = std::make_unique<Fence>(*claim, clock, strand);
}

void Context::run(const ScriptCall& call, redis::ReplyCallback cb) {
  const std::vector<std::string_view> k(call.keys.begin(), call.keys.end()),
      a(call.args.begin(), call.args.end());
  if (call.deadline_of.empty()) {
    client->eval(*call.script, k, a, std::move(cb));
    return;
  }
  // After the script ran (not merely sent: in a cluster the bucket is on another shard), the
  // session's deadline is due at once: a node's next tick computes the new one (deadlines.hpp).
  client->eval(*call.script, k, a,
               [this, key = deadlines::key_of(layout, call.deadline_of), id = call.deadline_of,
                created = call.deadline_created_ms,
                cb = std::move(cb)](std::error_code ec, const redis::Reply& reply) {
                 const bool fresh = created != 0 && reply.is_integer() && reply.integer == 1;
                 const auto start =
                     std::chrono::duration_cast<std::chrono::milliseconds>(options.start_timeout);
                 // LT for a creation: never later than a touch another script made meanwhile.
                 if (!ec && fresh) {
                   command(ignore_reply, "ZADD", key, "LT", created + start.count(), id);
                 } else if (!ec) {
                   command(ignore_reply, "ZADD", key, now_ms(), id);
                 }
                 cb(ec, reply);
               });
}

void Context::publish(const std::string& channel, const std::string& message) {
  command(ignore_reply, layout.publish(), channel, message);
}

redis::ReplyCallback Context::tracked_write(std::string_view what) {
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(writes_mu_);
    seq = ++writes_sent_;
    outstanding_.insert(seq);
  }
  return [this, seq, what = std::string(what)](std::error_code ec, const redis::Reply& reply) {
    {
      std::lock_guard lock(writes_mu_);
      outstanding_.erase(seq);
    }
    if (ec) {
      last_failed_write_ = std::max(last_failed_write_, seq);
      log::error("redis did not apply a write", {{"node", options.node_id},
                                                 {"write", what},
                                                 {"error", ec.message()},
                                                 {"reply", utf8::printable(reply.str)}});
    }
    check_flushes();
  };
}

void Context::flush(std::uint64_t mark, std::function<void(bool)> done) {
  std::uint64_t target = 0;
  {
    std::lock_guard lock(writes_mu_);
    target = writes_sent_.load();
  }
  // The PING tells whether Redis is reachable (and, on one server, is behind every write sent).
  command(
      [this, target, mark, done = std::move(done)](std::error_code ec, const redis::Reply&) mutable {
        flushes_.push_back({target, mark, !ec, std::move(done)});
        check_flushes();
      },
      "PING");
}

void Context::check_flushes() {
  std::uint64_t oldest = 0;
  {
    std::lock_guard lock(writes_mu_);
    oldest = outstanding_.empty() ? 0 : *outstanding_.begin();
  }
  std::vector<FlushWaiter> ready;
  std::erase_if(flushes_, [&](FlushWaiter& w) {
    if (oldest != 0 && oldest <= w.target) return false;
    ready.push_back(std::move(w));
    return true;
  });
  for (auto& w : ready)
    w.done(w.reachable && last_failed_write_ <= w.mark);
}

void Context::skipped(std::string_view key, std::string_view reason) {
  auto entry = utf8::printable(key);
  entry.append(" ").append(reason);
  if (warned_.size() >= 1000) warned_.clear();  // bounded; at worst a line is logged again
  if (!warned_.insert(entry).second) return;
  log::warn("skipped a value read from redis",
            {{"node", options.node_id}, {"key", utf8::printable(key)}, {"reason", reason}});
}

void Context::emit_participant(domain::EventType type, std::string_view session_id, std::string_view user_id,
                               std::string_view display_name, std::optional<domain::LeftReason> reason) {
  domain::PlatformEvent e;
  e.type = type;
  e.session_id = std::string(session_id);
  e.at = clock.wall_now();
  e.user_id = std::string(user_id);
  e.display_name = display_name.empty() ? std::string(user_id) : std::string(display_name);
  e.left_reason = reason;
  gate.emit(std::move(e));
}

void Context::pending_add(const std::string& connection_id) {
  std::lock_guard lock(pending_mu_);
  pending_.insert(connection_id);
}

void Context::pending_remove(const std::string& connection_id) {
  std::lock_guard lock(pending_mu_);
  pending_.erase(connection_id);
}

bool Context::pending(const std::string& connection_id) {
  std::lock_guard lock(pending_mu_);
  return pending_.count(connection_id) > 0;
}

}  // namespace sig::cluster
