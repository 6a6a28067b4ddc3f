#pragma once
// The registry of sessions on this node: the admin operations, joins, and housekeeping.
// The relay path does not come here: a connection keeps its Session and talks to it directly.
#include <cstddef>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/clock.hpp"
#include "domain/events.hpp"
#include "domain/presence.hpp"
#include "domain/session.hpp"
#include "domain/types.hpp"

namespace sig::domain {

enum class AdminError { not_found, invalid_state, invalid_body };

struct PutResult {
  std::optional<AdminError> error;
  bool created = false;
  std::string detail;
};

struct HubJoin {
  std::optional<protocol::ErrorCode> error;
  std::shared_ptr<Session> session;
  std::shared_ptr<Participant> participant;
};

struct HubStats {
  std::size_t sessions = 0;
  std::size_t live_sessions = 0;
  std::size_t participants = 0;  // this node's, reconnecting ones included
  std::size_t reconnecting = 0;  // this node's participants whose connection was lost
};

// Checks a directory entry: a host among the participants, unique non-empty user ids.
std::optional<std::string> validate_spec(const SessionSpec& spec);

class Hub {
 public:
  // `events`: where the platform events this node decides go (the webhooks); null: nowhere.
  Hub(const Clock& clock, SessionSettings settings, PresenceSink* presence = nullptr,
      EventSink* events = nullptr);

  const SessionSettings& settings() const noexcept { return settings_; }
  const Clock& clock() const noexcept { return clock_; }

  // Session directory (the platform's admin API).
  PutResult put_session(const std::string& session_id, SessionSpec spec);
  std::optional<SessionSnapshot> snapshot(std::string_view session_id) const;
  std::optional<AdminError> start_session(std::string_view session_id);
  std::optional<AdminError> end_session(std::string_view session_id);
  std::optional<AdminError> delete_session(std::string_view session_id);
  std::optional<AdminError> add_participant(std::string_view session_id, Identity identity);
  std::optional<AdminError> remove_participant(std::string_view session_id, std::string_view user_id);

  // A connection with a verified identity asks to join. With `cluster`, the shared store has
  // admitted it already (see Session::join).
  HubJoin join(std::string_view session_id, const Identity& identity, std::string connection_id,
               std::weak_ptr<Endpoint> endpoint, const ClusterJoin* cluster = nullptr,
               const ResumeRequest* resume = nullptr);

  // --- Several nodes: what the cluster layer applies from the shared store and from the other
  // nodes' events. Never echoed to the PresenceSink.

  // Creates or updates the session from its stored directory entry.
  void apply_record(const std::string& session_id, const SessionSnapshot& record);
  void apply_remote_joined(std::string_view session_id, const RosterEntry& entry, bool resumed = false);
  void apply_remote_reconnecting(std::string_view session_id, std::string_view connection_id);
  void apply_node_lost(std::string_view session_id, std::string_view connection_id);
  void apply_remote_left(std::string_view session_id, std::string_view connection_id);
  void reconcile(std::string_view session_id, const std::vector<RosterEntry>& roster, std::uint64_t seq,
                 bool remove_missing = true);
  // The session was deleted elsewhere: ended (host_ended) and forgotten.
  void apply_deleted(std::string_view session_id);
  // A relayed message for a connection of this node; false when it is not here.
  bool deliver(std::string_view session_id, std::string_view connection_id, const Payload& message,
               std::string_view from_user_id = {}) const;

  bool has_session(std::string_view session_id) const { return find(session_id) != nullptr; }
  std::vector<LocalMember> local_members() const;
  std::vector<LocalMember> local_members(std::string_view session_id) const;
  std::vector<std::pair<std::string, RosterEntry>> remote_members() const;  // (session id, member)
  std::vector<RosterEntry> remote_members(std::string_view session_id) const;
  std::vector<SessionSnapshot> snapshots() const;

  // Heartbeat timeouts, session timeouts, forgetting long-ended sessions. Call it every
  // tick_interval() with the current time.
  void tick(SteadyTime now);
  Millis tick_interval() const noexcept;

  // The server is stopping (or, with several nodes, this node was presumed dead): every
  // connection of this node is closed with 1001, without participant-left to its peers here.
  void shutdown();

  HubStats stats() const;

 private:
  std::shared_ptr<Session> find(std::string_view session_id) const;
  std::vector<std::shared_ptr<Session>> all() const;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  const Clock& clock_;
  const SessionSettings settings_;
  PresenceSink* const presence_;
  EventSink* const events_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Session>, Hash, std::equal_to<>> sessions_;
};

}  // namespace sig::domain
