#pragma once
// The events waiting for one target (pure; the dispatcher drives it on its strand).
// - Bounded: at most `limit` events not yet finished, the ones being delivered or waiting for a
//   retry included. A push into a full queue drops the oldest (counted); the drops since the last
//   delivery are announced by the next event sent (droppedBefore).
// - Order per session: an event is handed out only when no earlier event of its session is still
//   out (being sent or waiting for its retry). Events of other sessions go concurrently, at most
//   `max_in_flight` at a time.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "domain/events.hpp"

namespace sig::webhook {

struct QueuedEvent {
  std::uint64_t seq = 0;
  domain::PlatformEvent event;
  std::chrono::steady_clock::time_point enqueued{};
  // Fixed at the first attempt and kept for every retry.
  bool started = false;
  std::string id;
  std::string body;
  std::uint64_t dropped_before = 0;
  unsigned attempts = 0;
  bool out = false;      // handed out: being sent, or waiting for its retry
  bool sending = false;  // an attempt is on the wire (set and cleared by the dispatcher)
};

class TargetQueue {
 public:
  TargetQueue(std::size_t limit, std::size_t max_in_flight);

  // Returns true when the oldest event was dropped to make room.
  bool push(domain::PlatformEvent event, std::chrono::steady_clock::time_point now);

  // The oldest event that may go now (its session has nothing out, the in-flight bound not reached),
  // marked out; nullptr when none. The pointer stays valid until finish()/drop of that seq.
  QueuedEvent* take();
  // An event that is out, by seq; nullptr when it was dropped meanwhile (queue full).
  QueuedEvent* find(std::uint64_t seq);

  // The count that the event being started announces (droppedBefore); it is taken from the
  // counter, and given back by finish() unless the event was delivered.
  std::uint64_t claim_dropped();

  enum class End { delivered, rejected, expired };
  // Removes a finished event; `expired` counts it as dropped (too old). Does nothing when seq is
  // not there (dropped meanwhile), except releasing its session.
  void finish(std::uint64_t seq, End end);

  std::size_t size() const { return items_.size(); }
  std::size_t out() const { return out_; }
  std::uint64_t dropped_pending() const { return dropped_since_delivery_; }
  // Events dropped before they reached this queue (the publisher's inbox was full): announced by
  // the next event sent, like the queue's own drops.
  void note_dropped(std::uint64_t n) { dropped_since_delivery_ += n; }

 private:
  void release_session(const std::string& session_id);

  std::size_t limit_;
  std::size_t max_in_flight_;
  std::uint64_t next_seq_ = 1;
  std::deque<QueuedEvent> items_;  // by seq
  std::size_t out_ = 0;            // items handed out, plus dropped ones whose attempt still runs
  // Sessions with an event out (the value counts a dropped event whose attempt still runs too,
  // so that the next event of its session cannot overtake it on the wire).
  std::unordered_map<std::string, unsigned> busy_;
  std::unordered_map<std::uint64_t, std::string> ghosts_;  // dropped while out: seq -> session
  std::uint64_t dropped_since_delivery_ = 0;
};

}  // namespace sig::webhook
