#pragma once
// One group session: its directory entry, its lifecycle and its connected participants.
// Thread-safe: every public function takes the session's own mutex (never a global one); the
// relay path only reads the member list under it.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"
#include "domain/endpoint.hpp"
#include "domain/ice_servers.hpp"
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
  // STUN/TURN servers and the default transport policy; null: none (no iceServers in joined).
  std::shared_ptr<const IceSettings> ice;
};

// One connected participant, that is one live connection of a user in a session. With several
// nodes, a session also lists the participants connected to other nodes: those are *remote*
// (no endpoint here; their node owns their liveness).
class Participant {
 public:
  Participant(Identity identity, std::string connection_id, std::weak_ptr<Endpoint> endpoint, SteadyTime now,
              bool local = true, std::uint64_t seq = 0);

  const std::string& user_id() const noexcept { return identity_.user_id; }
  const std::string& display_name() const noexcept { return identity_.display_name; }
  const std::string& connection_id() const noexcept { return connection_id_; }
  // `,"fromUserId":"<id>"}`: appended to every message this participant sends to a peer.
  const std::string& from_suffix() const noexcept { return from_suffix_; }
  std::shared_ptr<Endpoint> endpoint() const { return endpoint_.lock(); }
  bool local() const noexcept { return local_; }
  // The join's place in the session's join order across nodes (0 on a single node).
  std::uint64_t seq() const noexcept { return seq_; }

  void touch(SteadyTime now) noexcept {
    last_activity_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }
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
  const bool local_;
  std::uint64_t seq_;    // guarded by the session's mutex
  SteadyTime ice_sent_;  // when its TURN credentials were made; guarded by the session's mutex
  bool active_ = true;   // guarded by the session's mutex
};

// A participant as the shared store lists it: who, on which connection (`<node-id>:<n>`), when
// in the join order.
struct RosterEntry {
  Identity identity;
  std::string connection_id;
  std::uint64_t seq = 0;
};

// A join already admitted by the shared store (several nodes): the store checked the cap and
// gave the join its place; `roster` is everyone else it listed right after the join.
struct ClusterJoin {
  std::uint64_t seq = 0;
  std::vector<RosterEntry> roster;
  // False while the store may still lack entries that other nodes are writing again (after Redis
  // came back): remote participants missing from the roster are then kept.
  bool remove_missing = true;
};

struct JoinResult {
  std::optional<protocol::ErrorCode> error;
  std::shared_ptr<Participant> participant;
};

struct RelayTarget {
  std::optional<protocol::ErrorCode> error;
  std::shared_ptr<Endpoint> endpoint;  // the target is on this node
  std::string remote_connection;       // or on another node: its connection id
};

// A participant connected to this node, for the cluster layer (re-writing the store).
struct LocalMember {
  std::string session_id;
  Identity identity;
  std::string connection_id;
  std::uint64_t seq = 0;
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
  // With `cluster`, the shared store has admitted the join already (no cap check here) and the
  // remote participants are first brought in line with its roster.
  // `wall_now` dates the TURN credentials of `joined`.
  JoinResult join(const Identity& from_token, std::string connection_id, std::weak_ptr<Endpoint> endpoint,
                  SteadyTime now, WallTime wall_now, const ClusterJoin* cluster = nullptr);
  // The participant's connection is gone or it sent `leave`. Idempotent.
  void leave(const std::shared_ptr<Participant>& participant, SteadyTime now);
  // Where a relayed message from `from` to `to_user_id` goes, or why it cannot.
  RelayTarget relay_target(const Participant& from, std::string_view to_user_id) const;
  // A heartbeat message (activity itself is recorded by Participant::touch).
  void heartbeat(const Participant& from, WallTime now);

  // by == nullptr: the platform (admin API), allowed whoever the host is.
  std::optional<protocol::ErrorCode> start(const Participant* by, SteadyTime now, WallTime wall_now);
  std::optional<protocol::ErrorCode> end(const Participant* by, EndReason reason, SteadyTime now,
                                         WallTime wall_now);

  // Directory changes; connected users who are no longer participants are removed.
  void replace_spec(SessionSpec spec, SteadyTime now);
  void add_participant(Identity identity);
  void remove_participant(std::string_view user_id, SteadyTime now);

  // The server is stopping: close every connection (1001), without participant-left.
  void shutdown();

  // Heartbeat timeouts, the session's own timeouts, and fresh TURN credentials (`ice-servers`)
  // for the local participants whose credentials reach IceSettings::refresh_after().
  TickResult tick(SteadyTime now, WallTime wall_now);

  SessionSnapshot snapshot() const;
  std::size_t connected_count() const;  // on every node
  std::size_t local_count() const;      // on this node

  // --- Changes made on other nodes (several nodes): applied here, told to the local members,
  // never echoed to the PresenceSink. All idempotent.

  // The directory entry as stored (spec, status and times); a transition to started or ended
  // is announced to the local members.
  void apply_record(const SessionSnapshot& record, SteadyTime now, WallTime wall_now);
  // A participant joined on another node (a newer connection of a user replaces the older one).
  void apply_remote_joined(const RosterEntry& entry, SteadyTime now);
  // A participant of another node left (matched by connection id).
  void apply_remote_left(std::string_view connection_id, SteadyTime now);
  // The remote participants become those of `roster` (the store's list); remote participants
  // that joined after `seq` (the roster's point in time) are kept, and all missing ones unless
  // `remove_missing`.
  void reconcile(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                 bool remove_missing = true);
  // A message for the local connection `connection_id`; false when it is not here.
  bool deliver(std::string_view connection_id, const Payload& message) const;
  // The session was deleted on another node: end it (host_ended) without echo.
  void apply_deleted(SteadyTime now, WallTime wall_now);

  std::vector<LocalMember> local_members() const;
  std::vector<RosterEntry> remote_members() const;

 private:
  using MemberList = std::vector<std::shared_ptr<Participant>>;
  void remove_member_locked(MemberList::iterator it, LeaveCause cause, SteadyTime now);
  void broadcast_locked(const Payload& message, const Participant* except) const;
  void end_locked(EndReason reason, SteadyTime now, WallTime wall_now, bool echo = true);
  void insert_member_locked(std::shared_ptr<Participant> p);
  // Adds a remote participant (replacing an older connection of the same user); false when
  // it is known already, older than the user's current connection, or recently gone.
  bool add_remote_locked(const RosterEntry& entry, SteadyTime now);
  bool tombstoned_locked(std::string_view connection_id, SteadyTime now) const;
  void reconcile_locked(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                        bool remove_missing);
  void remove_unlisted_locked(SteadyTime now);
  void refresh_ice_locked(SteadyTime now, WallTime wall_now);
  IceTransportPolicy policy_locked() const;

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
  MemberList members_;  // local and remote, in join order (seq, then arrival)
  // Connection ids gone recently, so a late or reordered event cannot bring them back.
  std::vector<std::pair<std::string, SteadyTime>> tombstones_;
};

}  // namespace sig::domain
