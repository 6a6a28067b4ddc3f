#pragma once
// What the platform hears about its sessions (the webhooks of docs/webhooks.md): lifecycle and
// presence events, each emitted once, by the node whose decision it was. The domain emits those it
// decides itself; with several nodes, the cluster layer emits those decided by a script (a session
// ended by a timer that several nodes run, an orphan of a dead node that expired) and swallows the
// domain's copies. Implementations must neither block nor call back into the domain: publish()
// may come with a session's mutex held.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"

namespace sig::domain {

// One participant's attendance in one session (docs/webhooks.md "Attendance").
struct AttendanceRecord {
  std::string user_id;
  std::string display_name;
  WallTime first_joined;                    // the first join of any incarnation
  std::optional<WallTime> last_left;        // the last departure; none while connected
  std::uint32_t connections = 0;            // WebSocket connections admitted: joins and resumes
  std::chrono::milliseconds connected{0};   // closed intervals; a resumed gap counts as connected
  std::optional<WallTime> connected_since;  // the open interval's start while connected
};

enum class EventType {
  session_started,
  session_ended,
  participant_joined,
  participant_left,
  participant_reconnecting,
  participant_reconnected,
};

// Why a participant.left: the wire names of docs/webhooks.md.
enum class LeftReason { left, disconnected, heartbeat_timeout, removed, replaced, session_ended };

struct PlatformEvent {
  EventType type = EventType::session_started;
  std::string session_id;
  WallTime at;  // when it was decided
  // Participant events.
  std::string user_id;
  std::string display_name;
  std::optional<LeftReason> left_reason;
  // The connection a participant event is about (internal: lets the cluster match a departure
  // with its leave script's verdict; never sent).
  std::string connection_id;
  // session.ended: reason is EndReason's wire name ("completed", "timeout", "host_ended").
  std::string end_reason;
  std::optional<WallTime> started_at;
  std::optional<WallTime> ended_at;
  std::vector<AttendanceRecord> attendance;  // session.ended: everyone who ever joined
};

// The wire names of docs/webhooks.md ("participant.left", "session_ended"...).
std::string_view to_string(EventType t) noexcept;
std::string_view to_string(LeftReason r) noexcept;

// A record's connected time as of `now`: its closed intervals plus the open one so far (what the
// admin API shows while the session runs; a reconnecting participant's gap counts until decided).
std::chrono::milliseconds connected_as_of(const AttendanceRecord& r, WallTime now) noexcept;

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void publish(PlatformEvent event) = 0;
};

}  // namespace sig::domain
