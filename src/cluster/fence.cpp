#include "cluster/fence.hpp"

#include <utility>

#include <boost/asio/post.hpp>

#include "common/log.hpp"

namespace sig::cluster {

Fence::Fence(NodeClaim& claim, const domain::Clock& clock, redis::Strand strand)
    : claim_(claim),
      clock_(clock),
      strand_(std::move(strand)),
      // The others check every third of the TTL whether the key exists; a third is kept as a
      // margin for a relay that passes the fence just before the process stalls.
      window_(claim.ttl() - claim.ttl() / 3) {}

bool Fence::open() const noexcept {
  return !holding_.load() && !shut_.load() && clock_.now().time_since_epoch().count() < open_until_.load();
}

void Fence::submit(Action action, std::size_t bytes, std::uint64_t epoch) {
  // open() before the epoch: reopen() changes the epoch before it opens, so an action that finds
  // the fence open after a reopen finds its epoch stale too.
  const bool now_open = open();
  if (stale(epoch)) {
    ++dropped_total_;
    return;
  }
  if (now_open) {
    action();
    return;
  }
  // Set before the post: an action submitted after this one on another thread is held behind it
  // (the strand runs the posts in order) instead of overtaking it.
  holding_ = true;
  boost::asio::post(strand_,
                    [this, h = Held{std::move(action), bytes, epoch}]() mutable { hold(std::move(h)); });
}

void Fence::hold(Held h) {
  if (stale(h.epoch)) {
    // Posted before a drop or a reopen that came first on the strand. holding_ stays: the next
    // action held, or released, clears it.
    ++dropped_total_;
    return;
  }
  if (!shut_ && held_.empty() && !verifying_ &&
      clock_.now().time_since_epoch().count() < open_until_.load()) {
    // Confirmed meanwhile and nothing ahead of it.
    h.action();
    if (held_.empty()) holding_ = false;
    return;
  }
  if (held_.size() >= kMaxHeld || h.bytes > kMaxHeldBytes) {
    ++dropped_total_;
    return;
  }
  std::size_t oldest = 0;
  while (!held_.empty() && held_bytes_ + h.bytes > kMaxHeldBytes) {
    held_bytes_ -= held_.front().bytes;
    held_.pop_front();
    ++oldest;
  }
  if (oldest > 0) {
    dropped_total_ += oldest;
    if (!over_logged_) {
      over_logged_ = true;
      log::warn("fence: held messages over the size bound, the oldest dropped",
                {{"max_bytes", std::uint64_t{kMaxHeldBytes}}, {"dropped_total", dropped_total_}});
    }
  }
  held_bytes_ += h.bytes;
  held_.push_back(std::move(h));
  verify();
}

void Fence::clear() {
  dropped_total_ += held_.size();
  held_.clear();
  held_bytes_ = 0;
  over_logged_ = false;
}

void Fence::verify() {
  if (verifying_ || shut_) return;
  refresh();
}

void Fence::refresh() {
  verifying_ = true;
  const auto sent = clock_.now();
  claim_.refresh([this, sent](const NodeClaim::Result& r) {
    verifying_ = false;
    if (verdict_) {
      verdict_(r, sent);
    } else if (r.outcome == NodeClaim::Outcome::current) {
      confirm(sent);
    }
    // No answer: what is held waits for the next refresh (the periodic one).
  });
}

void Fence::confirm(domain::SteadyTime sent) {
  if (shut_) return;
  const auto until = (sent + window_).time_since_epoch().count();
  if (until > open_until_.load()) open_until_ = until;
  release();
}

void Fence::release() {
  // Each held action may hold again (the window closed meanwhile): stop there.
  while (!held_.empty() && clock_.now().time_since_epoch().count() < open_until_.load()) {
    auto h = std::move(held_.front());
    held_.pop_front();
    held_bytes_ -= h.bytes;
    h.action();
  }
  if (held_.empty()) {
    holding_ = false;
    over_logged_ = false;
  } else {
    verify();
  }
}

std::size_t Fence::drop() {
  ++epoch_;
  const auto n = held_.size();
  clear();
  open_until_ = domain::SteadyTime::min().time_since_epoch().count();
  holding_ = true;  // until reopen(): nothing passes, and hold() does not verify on its own
  shut_ = true;
  return n;
}

void Fence::reopen(domain::SteadyTime sent) {
  ++epoch_;  // before it opens (submit())
  clear();
  shut_ = false;
  confirm(sent);
}

void Fence::shut() {
  ++epoch_;
  shut_ = true;
  holding_ = true;
  open_until_ = domain::SteadyTime::min().time_since_epoch().count();
}

}  // namespace sig::cluster
