#include "webhook/queue.hpp"

#include <algorithm>
#include <utility>

namespace sig::webhook {

TargetQueue::TargetQueue(std::size_t limit, std::size_t max_in_flight)
    : limit_(std::max<std::size_t>(limit, 1)), max_in_flight_(std::max<std::size_t>(max_in_flight, 1)) {}

bool TargetQueue::push(domain::PlatformEvent event, std::chrono::steady_clock::time_point now) {
  bool dropped = false;
  if (items_.size() >= limit_) {
    QueuedEvent& oldest = items_.front();
    // The receiver never hears of it: one more for droppedBefore, plus what it was to announce.
    dropped_since_delivery_ += 1 + oldest.dropped_before;
    if (oldest.sending) {
      // Its attempt is on the wire: keep its session busy until finish() says it ended, so the
      // next event of that session cannot overtake it.
      ghosts_.emplace(oldest.seq, oldest.event.session_id);
    } else if (oldest.out) {
      release_session(oldest.event.session_id);  // waiting for a retry: nothing to wait for
    }
    items_.pop_front();
    dropped = true;
  }
  QueuedEvent item;
  item.seq = next_seq_++;
  item.event = std::move(event);
  item.enqueued = now;
  items_.push_back(std::move(item));
  return dropped;
}

QueuedEvent* TargetQueue::take() {
  if (out_ >= max_in_flight_) return nullptr;
  for (auto& item : items_) {
    if (item.out || busy_.count(item.event.session_id) != 0) continue;
    item.out = true;
    ++out_;
    ++busy_[item.event.session_id];
    return &item;
  }
  return nullptr;
}

QueuedEvent* TargetQueue::find(std::uint64_t seq) {
  // Items are sorted by seq: a binary search.
  auto it = std::lower_bound(items_.begin(), items_.end(), seq,
                             [](const QueuedEvent& e, std::uint64_t s) { return e.seq < s; });
  return it != items_.end() && it->seq == seq ? &*it : nullptr;
}

std::uint64_t TargetQueue::claim_dropped() {
  return std::exchange(dropped_since_delivery_, 0);
}

void TargetQueue::release_session(const std::string& session_id) {
  auto it = busy_.find(session_id);
  if (it == busy_.end()) return;
  if (--it->second == 0) busy_.erase(it);
  if (out_ > 0) --out_;
}

void TargetQueue::finish(std::uint64_t seq, End end) {
  if (auto ghost = ghosts_.find(seq); ghost != ghosts_.end()) {
    release_session(ghost->second);
    ghosts_.erase(ghost);
    return;
  }
  auto it = std::lower_bound(items_.begin(), items_.end(), seq,
                             [](const QueuedEvent& e, std::uint64_t s) { return e.seq < s; });
  if (it == items_.end() || it->seq != seq) return;
  if (end != End::delivered) {
    // Not heard (expired), or refused: the next delivery announces its count again.
    dropped_since_delivery_ += it->dropped_before + (end == End::expired ? 1 : 0);
  }
  if (it->out) release_session(it->event.session_id);
  items_.erase(it);
}

}  // namespace sig::webhook
