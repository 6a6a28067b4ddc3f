#pragma once
// Exactly-once platform events with several nodes (docs/architecture.md, "Who emits an event").
//
// The domain emits what it decides on this node. Most of that is decided by a script too, on the
// same node, so it is emitted once. Three cases are not, and the gate sits between the domain and
// the real sink (the webhook publisher) to handle them:
// - session.started: kept back until this node's start script says it changed the status.
// - participant.left of a local departure: kept back until its leave script answers; emitted when
//   the script removed the entry (another node's join or end may have decided it first and
//   emitted its own), or when the script could not run.
// While an event of a session is kept back, the later ones of that session wait behind it (a
// per-session queue, flushed in order), whether published by the domain or emitted by a script.
// - session.ended and the participant.left (session_ended) before it: a session ended by a timer
//   is ended by every node that mirrors it. The gate swallows the domain's copies; the node whose
//   end script changed the status emits them, with the attendance the script read atomically.
//   Should the script fail (Redis unreachable), the swallowed copies are released instead.
// - participant.left (replaced): the node whose join script replaced the entry emits it, whether
//   or not its hub knew the old connection; the domain's copy inside that join is dropped.
// - departures, losses and returns of another node's participants (its node died, or this node's
//   own entries were presumed dead) are emitted from the leave/lost/restore scripts' replies.
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "domain/events.hpp"

namespace sig::cluster {

class EventGate final : public domain::EventSink {
 public:
  explicit EventGate(domain::EventSink* out) : out_(out) {}

  // domain::EventSink: what the domain decided on this node.
  void publish(domain::PlatformEvent event) override;
  // What a script decided: straight to the real sink.
  void emit(domain::PlatformEvent event);

  // The domain's swallowed end events of a session, in order, and forgets them: the node emits
  // them itself when its end script could not run (nobody recorded the end).
  std::vector<domain::PlatformEvent> take_ended(const std::string& session_id);
  // The start script's verdict on the domain's session.started (two nodes may start a session at
  // once: an admin call and the host's message): emitted when this node's script changed the
  // status, dropped otherwise. The domain publishes it just after it told the node, so the verdict
  // may come first: it then waits for the event.
  void settle_started(const std::string& session_id, bool emit_it);
  // The leave script's verdict on the domain's participant.left of a local connection: emitted
  // when the script removed the entry or could not run. The verdict may come first, as above.
  void settle_left(const std::string& session_id, const std::string& connection_id, bool emit_it);

  // While alive on this thread, the domain's events are held (a join after its script: the node
  // puts the script's left (replaced) before them, and drops them when the join is refused).
  class Hold {
   public:
    Hold();
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    std::vector<domain::PlatformEvent> take();

   private:
    std::vector<domain::PlatformEvent> held_;
    std::vector<domain::PlatformEvent>* previous_;
  };

 private:
  // A kept-back event of a session's queue, or one waiting behind it.
  struct Item {
    enum class State { waiting, ready, dropped };
    domain::PlatformEvent event;
    State state = State::ready;
  };
  using Kept = std::map<std::string, std::vector<domain::PlatformEvent>>;
  using Verdicts = std::map<std::string, bool>;
  void emit_locked(domain::PlatformEvent event);
  // Emits `event` now, or queues it behind what its session keeps back.
  void pass_locked(domain::PlatformEvent event);
  void keep_locked(domain::PlatformEvent event);
  // Applies a verdict to the first waiting item `match` finds, or records it for later.
  template <class Match>
  void settle_locked(const std::string& session_id, Match match, Verdicts& early, const std::string& key,
                     bool emit_it);
  // Emits the session's queue up to its first waiting item; flush_all_locked: all of it.
  void flush_locked(const std::string& session_id);
  void flush_all_locked(const std::string& session_id);

  domain::EventSink* const out_;
  std::mutex mu_;
  Kept ended_;                                    // bounded (kMaxKept)
  std::map<std::string, std::deque<Item>> held_;  // per session; bounded (kMaxKept sessions)
  Verdicts started_early_;                        // settle_started before the event (bounded likewise)
  Verdicts left_early_;                           // settle_left before the event, by connection
};

}  // namespace sig::cluster
