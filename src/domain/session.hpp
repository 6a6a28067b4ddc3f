#pragma once
// One group session: its directory entry, its lifecycle and its connected participants.
// Thread-safe: every public function takes the session's own mutex (never a global one); the
// relay path only reads the member list under it.
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"
#include "domain/endpoint.hpp"
#include "domain/presence.hpp"
#include "domain/types.hpp"
#include "protocol/codes.hpp"

namespace sig::domain {

struct SessionSettings {
  std::size_t max_participants = 6;
  Millis heartbeat_interval{15'000};
  Millis heartbeat_timeout{30'000};
  Millis start_timeout{3'600'000};
  Millis empty_timeout{300'000};
  Millis ended_retention{3'600'000};
};

// One connected participant, that is one live connection of a user in a session.
class Participant {
 public:
  Participant(Identity identity, std::string connection_id, std::weak_ptr<Endpoint> endpoint, SteadyTime now);

  const std::string& user_id() const noexcept { return identity_.user_id; }
  const std::string& display_name() const noexcept { return identity_.display_name; }
  const std::string& connection_id() const noexcept { return connection_id_; }
  // `,"fromUserId":"<id>"}`: appended to every message this participant sends to a peer.
  const std::string& from_suffix() const noexcept { return from_suffix_; }
  std::shared_ptr<Endpoint> endpoint() const { return endpoint_.lock(); }

  void touch(SteadyTime now) noexcept { last_activity_.store(now.time_since_epoch().count(), std::memory_order_relaxed); }
  SteadyTime last_activity() const noexcept {
    return SteadyTime(SteadyTime::duration(last_activity_.load(std::memory_order_relaxed)));
  }

 private:
  friend class Session;
  Identity identity_;
  std::string connection_id_;
  std::string from_suffix_;
  std::weak_ptr<Endpoint> endpoint_;
  std::atomic<SteadyTime::rep> last_activity_;
  bool active_ = true;  // guarded by the session's mutex
};

struct JoinResult {
  std::optional<protocol::ErrorCode> error;
  std::shared_ptr<Participant> participant;
};

struct RelayTarget {
  std::optional<protocol::ErrorCode> error;
  std::shared_ptr<Endpoint> endpoint;
};

// What Session::tick found.
enum class TickResult { live, ended, forget };

class Session {
 public:
  Session(std::string id, SessionSpec spec, const SessionSettings& settings, PresenceSink* presence,
          SteadyTime now, WallTime wall_now);

  const std::string& id() const noexcept { return id_; }

  // A user (already authenticated) connects. On success the newcomer has been sent `joined`
  // and the others `participant-joined` (and, for a replacement, `participant-left` first).
  JoinResult join(const Identity& from_token, std::string connection_id, std::weak_ptr<Endpoint> endpoint,
                  SteadyTime now);
  // The participant's connection is gone or it sent `leave`. Idempotent.
  void leave(const std::shared_ptr<Participant>& participant, SteadyTime now);
  // Where a relayed message from `from` to `to_user_id` goes, or why it cannot.
  RelayTarget relay_target(const Participant& from, std::string_view to_user_id) const;
  // A heartbeat message (activity itself is recorded by Participant::touch).
  void heartbeat(const Participant& from, WallTime now);

  // by == nullptr: the platform (admin API), allowed whoever the host is.
  std::optional<protocol::ErrorCode> start(const Participant* by, SteadyTime now, WallTime wall_now);
  std::optional<protocol::ErrorCode> end(const Participant* by, EndReason reason, SteadyTime now, WallTime wall_now);

  // Directory changes; connected users who are no longer participants are removed.
  void replace_spec(SessionSpec spec, SteadyTime now);
  void add_participant(Identity identity);
  void remove_participant(std::string_view user_id, SteadyTime now);

  // The server is stopping: close every connection (1001), without participant-left.
  void shutdown();

  // Heartbeat timeouts and the session's own timeouts.
  TickResult tick(SteadyTime now, WallTime wall_now);

  SessionSnapshot snapshot() const;
  std::size_t connected_count() const;

 private:
  using MemberList = std::vector<std::shared_ptr<Participant>>;
  void remove_member_locked(MemberList::iterator it, LeaveCause cause, SteadyTime now);
  void broadcast_locked(const Payload& message, const Participant* except) const;
  void end_locked(EndReason reason, SteadyTime now, WallTime wall_now);

  const std::string id_;
  const SessionSettings settings_;
  PresenceSink* const presence_;

  mutable std::mutex mu_;
  SessionSpec spec_;
  Status status_ = Status::waiting;
  SteadyTime created_;
  WallTime created_wall_;
  SteadyTime started_{};
  std::optional<WallTime> started_wall_;
  std::string started_at_text_;
  SteadyTime ended_{};
  std::optional<WallTime> ended_wall_;
  std::optional<EndReason> end_reason_;
  SteadyTime empty_since_;
  MemberList members_;
};

}  // namespace sig::domain
