#include "cluster/node.hpp"

#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "cluster/deadlines.hpp"
#include "cluster/scripts.hpp"
#include "common/log.hpp"

namespace sig::cluster {

namespace asio = boost::asio;
using redis::Reply;

Node::Node(const asio::any_io_executor& ex, const domain::Clock& clock, NodeOptions options,
           domain::EventSink* events)
    : ctx_(ex, clock, std::move(options), events) {
  // Loaded in every connection's handshake: an EVALSHA that met NOSCRIPT would be sent again
  // behind the commands sent after it (a restore then ran after a join it had not seen).
  const bool sharded = ctx_.layout.cluster();
  for (const auto* script :
       {&scripts::join(sharded), &scripts::leave(sharded), &scripts::lost(sharded), &scripts::start(sharded),
        &scripts::end(sharded), &scripts::put(sharded), &scripts::remove(sharded),
        &scripts::snapshot(sharded), &scripts::restore(sharded)}) {
    ctx_.client->preload(*script);
  }
  for (const auto* script :
       {&NodeClaim::claim_script(), &NodeClaim::refresh_script(), &NodeClaim::release_script()})
    ctx_.client->preload(*script);
  for (const auto* script : {&deadlines::due_script(), &deadlines::swap_script()})
    ctx_.client->preload(*script);
  liveness_.on_displaced_changed([this] { update_ready(); });
}

Node::~Node() {
  ctx_.client->close();
  ctx_.sub->close();
}

void Node::start(std::function<void(std::error_code)> done) {
  on_start_ = std::move(done);
  const auto& id = ctx_.node_id();
  ctx_.client->on_disconnected([this](std::error_code ec) {
    liveness_.link_dropped();
    log::warn("redis connection lost; signaling between nodes is suspended",
              {{"node", ctx_.node_id()}, {"error", ec.message()}});
    update_ready();
  });
  ctx_.client->on_reconnected([this] {
    log::info("redis connection back; writing this node's state again", {{"node", ctx_.node_id()}});
    // Let the other nodes write their state again before judging what is missing.
    ctx_.unsettle();
    // The restore waits for the alive key's verdict: a node that was frozen past --node-ttl (its
    // link dropped on waking up) was presumed dead, and that verdict decides what it writes.
    liveness_.write_alive([this](bool handled) {
      if (handled) {
        mirror_.sync([this] { update_ready(); });
        return;
      }
      restore_.run([this] { mirror_.sync([this] { update_ready(); }); });
    });
  });
  ctx_.sub->on_disconnected([this](std::error_code ec) {
    log::warn("redis pub/sub connection lost", {{"node", ctx_.node_id()}, {"error", ec.message()}});
    update_ready();
  });
  ctx_.sub->on_reconnected([this] {
    log::info("redis pub/sub connection back; re-reading the sessions", {{"node", ctx_.node_id()}});
    ctx_.unsettle();
    mirror_.sync([this] { update_ready(); });
  });
  ctx_.sub->subscribe(ctx_.layout.node_channel(id),
                      [this](const std::string&, const std::string& m) { on_node_message(m); });
  if (auto ec = ctx_.client->start([this](std::error_code e) { on_started_link(e); })) {
    on_start_(ec);
    return;
  }
  if (auto ec = ctx_.sub->start([this](std::error_code e) { on_started_link(e); })) {
    ctx_.client->close();
    on_start_(ec);
  }
}

void Node::on_started_link(std::error_code ec) {
  if (started_) return;
  if (ec) {
    started_ = true;  // report the first failure once
    if (on_start_) on_start_(ec);
    return;
  }
  if (++links_up_ < 2) return;
  started_ = true;
  log::info("connected to redis", {{"node", ctx_.node_id()}});
  // The node id first: a second process started with a live node's id must not touch its state.
  liveness_.claim([this](std::error_code claim_ec) {
    if (claim_ec) {
      if (on_start_) on_start_(claim_ec);
      return;
    }
    liveness_.start();  // refreshes the alive key
    mirror_.sync([this] {
      ctx_.synced = true;
      update_ready();
      if (on_start_) on_start_({});
    });
  });
}

void Node::update_ready() {
  asio::dispatch(ctx_.strand, [this] {
    set_ready(ctx_.synced && !ctx_.stopping && ctx_.client->connected() && ctx_.sub->connected() &&
              !ctx_.displaced);
  });
}

void Node::set_ready(bool ready) {
  if (ready == ready_) return;
  ready_ = ready;
  ready_flag_.store(ready, std::memory_order_relaxed);
  if (on_ready_) on_ready_(ready);
}

void Node::stop() {
  asio::dispatch(ctx_.strand, [this] {
    ctx_.stopping = true;
    set_ready(false);
    liveness_.stop();
  });
}

void Node::disconnected(std::string_view session_id, std::string_view user_id,
                        std::string_view connection_id) {
  writes_.disconnected(session_id, user_id, connection_id);
  // Its last local participant may have gone: the node stops working for the session.
  asio::post(ctx_.strand, [this, session = std::string(session_id)] { mirror_.release(session); });
}

void Node::close() {
  ctx_.client->close();
  ctx_.sub->close();
}

void Node::relay(std::string_view session_id, std::string_view connection_id, std::string_view from_user_id,
                 domain::Payload message, std::uint64_t epoch) {
  auto channel = ctx_.layout.node_channel(keys::node_of(connection_id));
  auto frame = encode_relay(session_id, connection_id, from_user_id, *message);
  // Fenced: held while this node may have been presumed dead, dropped when its epoch is stale
  // (fence.hpp).
  const auto bytes = frame.size() + channel.size();
  ctx_.fence->submit(
      [this, channel = std::move(channel), frame = std::move(frame)] { ctx_.publish(channel, frame); }, bytes,
      epoch);
}

void Node::on_node_message(const std::string& message) {
  const auto r = decode_relay(message);
  if (!r) {
    log::warn("malformed message on the node channel (or not UTF-8)", {{"node", ctx_.node_id()}});
    return;
  }
  if (!ctx_.hub->deliver(r->session_id, r->connection_id, domain::make_payload(std::string(r->payload)),
                         r->from_user_id)) {
    log::debug("relayed message for a connection that is gone",
               {{"node", ctx_.node_id()}, {"connection", r->connection_id}});
  }
}

void Node::refresh(std::string session_id, std::function<void(bool read)> done) {
  if (!ctx_.client->connected()) {
    done(false);
    return;
  }
  mirror_.load(session_id, std::move(done), true);
}

void Node::flush(std::uint64_t mark, std::function<void(bool)> done) {
  ctx_.flush(mark, std::move(done));
}

}  // namespace sig::cluster
