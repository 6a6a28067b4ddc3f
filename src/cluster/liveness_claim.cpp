// Liveness: the node id claim at start-up, the verdicts of the alive key's refreshes (the fence's
// decisions, fence.hpp), and the displaced state (another process holds this node id).
#include <memory>
#include <utility>

#include "cluster/liveness.hpp"
#include "common/log.hpp"

namespace sig::cluster {

using Outcome = NodeClaim::Outcome;

void Liveness::claim(std::function<void(std::error_code)> done) {
  ctx_.fence->on_verdict(
      [this](const NodeClaim::Result& r, domain::SteadyTime sent) { on_verdict(r, sent); });
  // A crashed predecessor with this id leaves its key for up to --node-ttl: waited for. A live node
  // refreshes its key every third of it, so it still holds the id after that.
  const auto ttl = ctx_.options.node_ttl;
  const auto deadline = ctx_.clock.now() + ttl + ttl / 3;
  auto attempt = std::make_shared<std::function<void()>>();
  *attempt = [this, attempt, deadline, ttl, done = std::move(done), logged = false]() mutable {
    const auto sent = ctx_.clock.now();
    ctx_.claim->claim([this, attempt, deadline, ttl, sent, &done, &logged](const NodeClaim::Result& r) {
      if (r.outcome == Outcome::current) {
        alive_written_ = true;
        last_tick_ = sent;
        ctx_.fence->confirm(sent);
        auto d = std::move(done);
        *attempt = nullptr;  // breaks the self-reference
        d({});
        return;
      }
      if (r.outcome == Outcome::taken && ctx_.clock.now() < deadline) {
        if (!logged) {
          logged = true;
          log::warn("this node id is held by another node: waiting for its key to expire",
                    {{"node", ctx_.node_id()}, {"wait_ms", (ttl + ttl / 3).count()}});
        }
        timer_.expires_after(std::max(ttl / 10, std::chrono::milliseconds(50)));
        timer_.async_wait([attempt](boost::system::error_code ec) {
          if (!ec && *attempt) (*attempt)();
        });
        return;
      }
      if (r.outcome == Outcome::taken) {
        log::error("another live node holds this node id: refusing to start",
                   {{"node", ctx_.node_id()}, {"key", ctx_.claim->key()}});
      }
      auto d = std::move(done);
      *attempt = nullptr;
      d(r.error ? r.error : make_error_code(ClaimErrc::bad_reply));
    });
  };
  (*attempt)();
}

void Liveness::on_verdict(const NodeClaim::Result& r, domain::SteadyTime sent) {
  if (ctx_.stopping) return;
  if (r.outcome == Outcome::failed) {
    // No answer (the next tick asks again), or Redis refused this node's own write (a cluster
    // still forming after a restart answers CLUSTERDOWN for a while): the others' writes may be
    // failing too, so no verdict on a missing alive key, theirs or this node's, for one --node-ttl.
    ctx_.unsettle();
    link_dropped_ = true;
    return;
  }
  // A refresh sent long after the previous tick (the fence asked at once on waking up, before the
  // tick ran) shows the stall as well as the tick does.
  if (stall_from_ == domain::SteadyTime{} && last_tick_ != domain::SteadyTime{} &&
      sent - last_tick_ > ctx_.options.node_ttl * 2 / 3) {
    stall_from_ = last_tick_;
    stall_seen_ = sent;
  }
  bool stalled = false;
  bool handled = false;  // this verdict wrote the state again, or found the node displaced
  if (stall_from_ != domain::SteadyTime{}) {
    if (r.outcome == Outcome::current) {
      // Still ours after the stall (a reply to a refresh sent before it says nothing of it).
      if (sent >= stall_seen_) stall_from_ = {};
    } else if (sent > stall_from_) {
      stalled = true;
      stall_from_ = {};
    }
  }
  switch (r.outcome) {
    case Outcome::current: ctx_.fence->confirm(sent); break;
    case Outcome::expired:
      // The script wrote it again. This process stalled (frozen, starved) past the window: the
      // others may have presumed it dead, whatever its link did meanwhile (a reply timeout on
      // waking up drops it). Else gone while the link stayed up: Redis stalled or lost its data,
      // and nothing this process held is stale. Gone with the link: Redis restarted.
      if (stalled) {
        on_presumed_dead(true);
        handled = true;
      } else if (alive_written_ && !link_dropped_) {
        ctx_.fence->confirm(sent);
        on_presumed_dead(false);
        handled = true;
      } else {
        ctx_.fence->confirm(sent);
      }
      break;
    case Outcome::taken:
      displaced(r);
      handled = true;
      break;
    case Outcome::failed: break;
  }
  alive_written_ = true;
  link_dropped_ = false;
  if (auto then = std::exchange(after_verdict_, nullptr)) then(handled || ctx_.displaced);
}

// Another process holds this node id (it started while this one was frozen past --node-ttl): two
// processes would share connection ids and remove each other's entries. This one closes its
// connections (1001: the clients resume elsewhere), relays nothing, writes nothing for them, is
// not ready, and claims the id again each tick until the other's key expires.
void Liveness::displaced(const NodeClaim::Result& r) {
  if (ctx_.displaced) return;
  log::error("another process took this node id (same --node-id): closing every connection until it is free",
             {{"node", ctx_.node_id()}, {"key", ctx_.claim->key()}});
  (void)r;
  ctx_.displaced = true;
  ctx_.fence->drop();
  ctx_.fence->shut();
  ctx_.hub->shutdown();
  if (on_displaced_changed_) on_displaced_changed_();
}

void Liveness::claim_again() {
  const auto sent = ctx_.clock.now();
  ctx_.claim->claim([this, sent](const NodeClaim::Result& r) {
    if (ctx_.stopping || !ctx_.displaced || r.outcome != Outcome::current) return;
    log::warn("this node id is free again: serving", {{"node", ctx_.node_id()}});
    ctx_.displaced = false;
    ctx_.unsettle();
    alive_written_ = true;
    restore_.run();
    ctx_.fence->reopen(sent);
    if (on_displaced_changed_) on_displaced_changed_();
  });
}

}  // namespace sig::cluster
