#pragma once
// Error codes of `error` messages and WebSocket close codes (docs/protocol.md sections 4 and 5).
#include <cstdint>
#include <string_view>

namespace sig::protocol {

enum class ErrorCode {
  bad_request,
  invalid_token,
  not_participant,
  session_not_found,
  session_full,
  session_ended,
  invalid_json,
  invalid_message,
  unknown_type,
  binary_not_supported,
  target_not_connected,
  invalid_target,
  not_host,
  invalid_state,
  rate_limited,
  heartbeat_timeout,
  replaced,
  removed,
};

std::string_view to_string(ErrorCode code) noexcept;

enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  too_big = 1009,
  bad_request = 4400,
  invalid_token = 4401,
  not_participant = 4403,
  session_not_found = 4404,
  heartbeat_timeout = 4408,
  session_full = 4409,
  session_ended = 4410,
  flood = 4429,
  replaced = 4440,
  removed = 4450,
  slow_consumer = 4458,
};

// The close code that goes with a refusal at connect time or a closing error.
CloseCode close_code_for(ErrorCode code) noexcept;

}  // namespace sig::protocol
