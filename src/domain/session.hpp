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

#include "domain/attendance.hpp"
#include "domain/clock.hpp"
#include "domain/endpoint.hpp"
#include "domain/events.hpp"
#include "domain/ice_servers.hpp"
#include "domain/presence.hpp"
#include "domain/remote_roster.hpp"
#include "domain/resume_queue.hpp"
#include "domain/types.hpp"
#include "protocol/codes.hpp"
#include "protocol/server_messages.hpp"

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
  // How long a participant whose connection was lost keeps its place (0: it leaves at once), and
  // what is kept for it meanwhile (docs/protocol.md, "Resume").
  Millis resume_window{10'000};
  // The same for a participant whose node died (noticed late: see server.cpp).
  Millis remote_resume_window{10'000};
  std::size_t resume_queue_messages = 64;
  std::size_t resume_queue_bytes = std::size_t{256} * 1024;
};

// One connected participant, that is one live connection of a user in a session. With several
// nodes, a session also lists the participants connected to other nodes: those are *remote*
// (no endpoint here; their node owns their liveness; see RemoteRoster).
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

  // Its incarnation's resumeId (empty when the join gave none).
  const std::string& resume_id() const noexcept { return resume_id_; }

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
  // Guarded by the session's mutex:
  std::string resume_id_;
  bool reconnecting_ = false;  // its connection was lost; it keeps its place until deadline_
  SteadyTime deadline_{};      // reconnecting: announced as gone at this time
  ResumeQueue queue_;          // reconnecting: messages kept for its resume
};

// The resume part of a join on a single node: the resumeId the client presented (empty: none),
// and the one a new incarnation gets. With several nodes the store decides (ClusterJoin).
struct ResumeRequest {
  std::string presented;
  std::string fresh;
};

struct JoinResult {
  std::optional<protocol::ErrorCode> error;
  std::shared_ptr<Participant> participant;
};

// Where Session::relay sent a message: nowhere (error), to a connection of this node or into the
// queue of a reconnecting participant (both done), or to another node (remote_connection: the
// caller publishes it).
struct RelayResult {
  std::optional<protocol::ErrorCode> error;
  std::string remote_connection;
};

// What Session::tick found.
enum class TickResult { live, ended, forget };

class Session {
 public:
  // `events`: where the platform events this session decides go (null: nowhere).
  Session(std::string id, SessionSpec spec, const SessionSettings& settings, PresenceSink* presence,
          SteadyTime now, WallTime wall_now, EventSink* events = nullptr);

  const std::string& id() const noexcept { return id_; }

  // A user (already authenticated) connects. On success the newcomer has been sent `joined`
  // and the others `participant-joined` (and, for a replacement, `participant-left` first).
  // With `cluster`, the shared store has admitted the join already (no cap check here) and the
  // remote participants are first brought in line with its roster.
  // `wall_now` dates the TURN credentials of `joined`.
  // A resume (the presented resumeId matches the user's current incarnation, or the store says
  // so) replaces the old connection silently: the others get participant-reconnected, the
  // newcomer its `joined` (resumed) and then the messages kept for it.
  JoinResult join(const Identity& from_token, std::string connection_id, std::weak_ptr<Endpoint> endpoint,
                  SteadyTime now, WallTime wall_now, const ClusterJoin* cluster = nullptr,
                  const ResumeRequest* resume = nullptr);
  // The participant said goodbye (`leave`, its close frame: cause left) or was taken out (closed,
  // e.g. for a message flood: the platform hears `disconnected`). Idempotent.
  void leave(const std::shared_ptr<Participant>& participant, SteadyTime now,
             LeaveCause cause = LeaveCause::left);
  // The participant's connection was lost: it keeps its place for the resume window (at most
  // until the heartbeat timeout after its last message), or leaves at once when the window is 0.
  void lose(const std::shared_ptr<Participant>& participant, SteadyTime now);
  // Relays `message` from `from` to `to_user_id`: sent, kept for a reconnecting target, handed
  // back for another node, or refused.
  RelayResult relay(const Participant& from, std::string_view to_user_id, const Payload& message);
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
  std::size_t local_reconnecting_count() const;

  // --- Several nodes (session_cluster.cpp; the bookkeeping is RemoteRoster's). Changes made on
  // other nodes: applied here, told to the local members, never echoed to the PresenceSink.
  // All idempotent.

  // The directory entry as stored (spec, status and times); a transition to started or ended
  // is announced to the local members.
  void apply_record(const SessionSnapshot& record, SteadyTime now, WallTime wall_now);
  // A participant joined on another node (a newer connection of a user replaces the older one);
  // `resumed`: it resumed there, and replaces its old connection silently.
  void apply_remote_joined(const RosterEntry& entry, SteadyTime now, bool resumed = false);
  // A participant of another node lost its connection (its node keeps its place).
  void apply_remote_reconnecting(std::string_view connection_id, SteadyTime now);
  // The node of a remote participant is gone: it is reconnecting for the resume window (messages
  // for it are kept here), or leaves at once when the window is 0.
  void apply_node_lost(std::string_view connection_id, SteadyTime now);
  // A participant of another node left (matched by connection id).
  void apply_remote_left(std::string_view connection_id, SteadyTime now);
  // The remote participants become those of `roster` (the store's list); remote participants
  // that joined after `seq` (the roster's point in time) are kept, and all missing ones unless
  // `remove_missing`.
  void reconcile(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                 bool remove_missing = true);
  // A message from `from_user_id` on another node for the local connection `connection_id` (or
  // for the connection that resumed it); false when it is not here.
  bool deliver(std::string_view connection_id, const Payload& message, std::string_view from_user_id = {});
  // The session was deleted on another node: end it (host_ended) without echo.
  void apply_deleted(SteadyTime now, WallTime wall_now);

  std::vector<LocalMember> local_members() const;
  std::vector<RosterEntry> remote_members() const;

 private:
  using MemberList = std::vector<std::shared_ptr<Participant>>;
  void remove_member_locked(MemberList::iterator it, LeaveCause cause, SteadyTime now);
  // The user's current incarnation takes `fresh`'s place silently (a resume); the messages kept
  // for the old one go to the new one; the others hear participant-reconnected.
  void resume_locked(MemberList::iterator old, const std::shared_ptr<Participant>& fresh, SteadyTime now);
  void flush_queue_locked(Participant& from_old, const Participant& to);
  // Keeps `message` for a reconnecting participant; when it is full, `from` hears undelivered.
  void hold_locked(Participant& target, Payload message, std::string_view from_user_id);
  void undelivered_locked(std::string_view from_user_id, std::string_view target_user_id);
  void mark_reconnecting_locked(Participant& p, SteadyTime deadline, SteadyTime now);
  // A remote participant whose node was presumed dead is there again, on the same connection.
  void end_reconnecting_locked(Participant& p);
  // Delivers to a member wherever it is (a local endpoint, its queue, or its node).
  bool deliver_locked(Participant& target, const Payload& message, std::string_view from_user_id);
  void expire_locked(SteadyTime now);
  JoinResult resume_join_locked(MemberList::iterator previous, Identity identity, std::string connection_id,
                                std::weak_ptr<Endpoint> endpoint, std::uint64_t seq, std::string resume_id,
                                SteadyTime now, WallTime wall_now);
  void send_joined_locked(const Participant& to, const std::vector<protocol::PeerRef>& peers, bool resumed,
                          WallTime wall_now) const;
  void broadcast_locked(const Payload& message, const Participant* except) const;
  void end_locked(EndReason reason, SteadyTime now, WallTime wall_now, bool echo = true);
  void insert_member_locked(std::shared_ptr<Participant> p);
  void remove_unlisted_locked(SteadyTime now);
  // Remote participants in a message's path: one whose node is gone keeps its messages here.
  bool orphan_locked(const Participant& p) const { return !p.local_ && remote_.orphaned(p.connection_id_); }
  void members_cleared_locked() { remote_.forget_orphans(); }
  void refresh_ice_locked(SteadyTime now, WallTime wall_now);
  IceTransportPolicy policy_locked() const;

  // --- Several nodes (session_cluster.cpp).
  // Applies what RemoteRoster::admit decided for a remote participant; false when ignored.
  bool admit_remote_locked(const RosterEntry& entry, SteadyTime now, bool resumed = false);
  void reconcile_locked(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                        bool remove_missing, std::string_view keep_user = {});

  // --- Platform events and attendance (session_events.cpp): only for what this node decides
  // about its own participants, never while quiet_ (a change applied from another node).
  // The wall time of a steady time, from the last (steady, wall) pair a caller gave.
  WallTime wall_at(SteadyTime now) const;
  void sync_wall_locked(SteadyTime now, WallTime wall_now);
  bool publishing_locked(const Participant& p) const { return p.local_ && !quiet_; }
  void publish_locked(PlatformEvent event) const;
  void publish_participant_locked(EventType type, const Participant& p, WallTime at,
                                  std::optional<LeftReason> reason = std::nullopt) const;
  void admitted_locked(const Participant& p, bool resumed, SteadyTime now);
  void lost_locked(const Participant& p, SteadyTime now);
  void departed_locked(const Participant& p, LeaveCause cause, SteadyTime now);
  void started_locked(WallTime wall_now);
  // Before the members are dropped: their left (session_ended), then session.ended.
  void ended_locked(EndReason reason, SteadyTime now, WallTime wall_now);

  // Marks a change applied from another node for its scope (under the mutex): nothing published.
  class Quiet {
   public:
    explicit Quiet(bool& flag) : flag_(flag), was_(flag) { flag_ = true; }
    ~Quiet() { flag_ = was_; }
    Quiet(const Quiet&) = delete;
    Quiet& operator=(const Quiet&) = delete;

   private:
    bool& flag_;
    bool was_;
  };

  const std::string id_;
  const SessionSettings settings_;
  PresenceSink* const presence_;
  EventSink* const events_;

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
  // Several nodes: recently gone connections and orphans (empty and unused on a single node but
  // for the departures it remembers, which a single node never asks about).
  RemoteRoster remote_;
  // Platform events and attendance (session_events.cpp).
  bool quiet_ = false;
  Attendance attendance_;
  SteadyTime wall_anchor_steady_;  // a (steady, wall) pair of the same instant, for wall_at()
  WallTime wall_anchor_;
};

}  // namespace sig::domain
