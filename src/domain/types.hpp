#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"
#include "domain/events.hpp"

namespace sig::domain {

struct Identity {
  std::string user_id;
  std::string display_name;
};

// The longest session duration accepted (admin API and Redis): 7 days. A lesson lasts hours; a
// week leaves room for any planned use, and keeps started_at + duration far from the overflow
// of the nanosecond clocks (about 292 years), which a value of 9.3e9 s reached.
inline constexpr std::int64_t kMaxSessionDurationSeconds = std::int64_t{7} * 24 * 3600;

// Which ICE candidates the clients gather and use (RTCConfiguration.iceTransportPolicy):
// relay hides every participant's addresses from the others.
enum class IceTransportPolicy { all, relay };

// What the platform says about a session (the session directory).
struct SessionSpec {
  std::string host_user_id;
  std::vector<Identity> participants;
  std::chrono::seconds duration{0};                        // 0: no limit
  std::optional<IceTransportPolicy> ice_transport_policy;  // none: the server's default

  const Identity* find(std::string_view user_id) const;
};

enum class Status { waiting, started, ended };
enum class EndReason { completed, timeout, host_ended };

std::string_view to_string(Status s) noexcept;
std::string_view to_string(EndReason r) noexcept;
std::string_view to_string(IceTransportPolicy p) noexcept;
std::optional<IceTransportPolicy> ice_transport_policy_from(std::string_view text) noexcept;

struct SessionSnapshot {
  std::string session_id;
  SessionSpec spec;
  Status status = Status::waiting;
  WallTime created_at;
  std::optional<WallTime> started_at;
  std::optional<WallTime> ended_at;
  std::optional<EndReason> end_reason;
  std::vector<std::string> connected;     // user ids, in join order (reconnecting ones included)
  std::vector<std::string> reconnecting;  // those of them whose connection was lost, in join order
  // Everyone who ever joined, in join order (AttendanceRecord::connected: closed intervals; see
  // connected_as_of). On a single node the session's own; with several nodes, read from the store.
  std::vector<AttendanceRecord> attendance;
};

// Why a connected participant goes away.
enum class LeaveCause { left, closed, heartbeat_timeout, replaced, removed };

// What the platform hears for a cause (docs/webhooks.md): closed → disconnected, the others alike.
LeftReason left_reason(LeaveCause cause) noexcept;

}  // namespace sig::domain
