#include "protocol/codes.hpp"

namespace sig::protocol {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::invalid_token: return "invalid_token";
    case ErrorCode::not_participant: return "not_participant";
    case ErrorCode::session_not_found: return "session_not_found";
    case ErrorCode::session_full: return "session_full";
    case ErrorCode::session_ended: return "session_ended";
    case ErrorCode::invalid_json: return "invalid_json";
    case ErrorCode::invalid_message: return "invalid_message";
    case ErrorCode::unknown_type: return "unknown_type";
    case ErrorCode::binary_not_supported: return "binary_not_supported";
    case ErrorCode::target_not_connected: return "target_not_connected";
    case ErrorCode::invalid_target: return "invalid_target";
    case ErrorCode::not_host: return "not_host";
    case ErrorCode::invalid_state: return "invalid_state";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::heartbeat_timeout: return "heartbeat_timeout";
    case ErrorCode::replaced: return "replaced";
    case ErrorCode::removed: return "removed";
  }
  return "unknown";
}

CloseCode close_code_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::bad_request: return CloseCode::bad_request;
    case ErrorCode::invalid_token: return CloseCode::invalid_token;
    case ErrorCode::not_participant: return CloseCode::not_participant;
    case ErrorCode::session_not_found: return CloseCode::session_not_found;
    case ErrorCode::session_full: return CloseCode::session_full;
    case ErrorCode::session_ended: return CloseCode::session_ended;
    case ErrorCode::heartbeat_timeout: return CloseCode::heartbeat_timeout;
    case ErrorCode::replaced: return CloseCode::replaced;
    case ErrorCode::removed: return CloseCode::removed;
    case ErrorCode::rate_limited: return CloseCode::flood;
    default: return CloseCode::normal;
  }
}

}  // namespace sig::protocol
