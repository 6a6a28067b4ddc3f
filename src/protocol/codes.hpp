#pragma once
// The one table of errors (docs/protocol.md sections 4 and 5, section 6 for HTTP): every error's
// wire name, the close code it ends a WebSocket connection with, the HTTP status it answers a
// request with, and its default text. Every other mapping (close reasons, HTTP error bodies,
// refusal texts, codes read back from Redis scripts, metrics labels) is derived from it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sig::protocol {

enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  too_big = 1009,
  service_restart = 1012,
  try_again_later = 1013,
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

// X-macro: name, close code (normal: the error does not close), HTTP status (0: never answers
// HTTP), default text. The order is the enum's; append only (metrics iterate over it).
#define SIG_ERROR_TABLE(X)                                                                                  \
  X(bad_request, bad_request, 400, "bad request")                                                           \
  X(invalid_token, invalid_token, 0, "token missing or not valid")                                          \
  X(not_participant, not_participant, 0, "you are not a participant of this session")                       \
  X(session_not_found, session_not_found, 0, "no session with this id")                                     \
  X(session_full, session_full, 0, "this session is full")                                                  \
  X(session_ended, session_ended, 0, "this session has ended")                                              \
  X(invalid_json, normal, 400, "the message is not valid JSON")                                             \
  X(invalid_message, normal, 0, "the message is not valid")                                                 \
  X(unknown_type, normal, 0, "unknown message type")                                                        \
  X(binary_not_supported, normal, 0, "binary frames are not supported; send JSON text")                     \
  X(target_not_connected, normal, 0, "the target is not connected to this session")                         \
  X(invalid_target, normal, 0, "the target is the sender")                                                  \
  X(not_host, normal, 0, "only the host can do this")                                                       \
  X(invalid_state, normal, 409, "not allowed in the session's state")                                       \
  X(rate_limited, flood, 0, "too many messages")                                                            \
  X(heartbeat_timeout, heartbeat_timeout, 0, "no message for the heartbeat timeout")                        \
  X(replaced, replaced, 0, "a newer connection of this user took over")                                     \
  X(removed, removed, 0, "you were removed from this session")                                              \
  /* Transport and HTTP errors. */                                                                          \
  X(protocol_error, protocol_error, 0, "WebSocket protocol error")                                          \
  X(message_too_big, too_big, 413, "the message is larger than the limit")                                  \
  X(slow_consumer, slow_consumer, 0, "the connection does not read what it is sent")                        \
  X(server_shutdown, going_away, 503, "the server is shutting down")                                        \
  X(not_found, normal, 404, "no such endpoint")                                                             \
  X(method_not_allowed, normal, 405, "method not allowed")                                                  \
  X(unauthorized, normal, 401, "a valid admin key is required (Authorization: Bearer <key>)")               \
  X(invalid_body, normal, 400, "the request body is not valid")                                             \
  X(body_too_large, normal, 413, "the request body is larger than the limit")                               \
  X(header_too_large, normal, 431, "the request header block is larger than the limit")                     \
  X(upgrade_required, normal, 426, "connect with a WebSocket")                                              \
  X(invalid_utf8, bad_request, 400, "text that is not valid UTF-8")                                         \
  X(overloaded, try_again_later, 503, "the server is at a connection limit; try again later")               \
  X(store_unavailable, try_again_later, 503, "the shared store did not answer or refused; try again later") \
  X(internal, normal, 500, "unexpected error")                                                              \
  X(undelivered, normal, 0, "a message for a reconnecting participant could not be kept")                   \
  X(draining, service_restart, 503, "this instance is draining; connect again (another one takes over)")

enum class ErrorCode {
#define SIG_ERROR_ENUM(name, close, status, text) name,
  SIG_ERROR_TABLE(SIG_ERROR_ENUM)
#undef SIG_ERROR_ENUM
};

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;  // on the wire: `code` of an error message, `error` of an HTTP error body
  CloseCode close;        // the close code when the error ends a connection (normal: it does not)
  unsigned http_status;   // the status when it answers an HTTP request (0: it never does)
  std::string_view text;  // the default message
};

// One row counts one: the enum's values are 0 .. kErrorCount - 1.
#define SIG_ERROR_COUNT(name, close, status, text) 1U +  // NOLINT(bugprone-macro-parentheses): a sum
inline constexpr std::size_t kErrorCount = SIG_ERROR_TABLE(SIG_ERROR_COUNT) 0U;
#undef SIG_ERROR_COUNT

const ErrorInfo& info(ErrorCode code) noexcept;
std::string_view to_string(ErrorCode code) noexcept;
std::string_view default_message(ErrorCode code) noexcept;
// The close code that goes with a refusal at connect time or a closing error.
CloseCode close_code_for(ErrorCode code) noexcept;
unsigned http_status_for(ErrorCode code) noexcept;
// The error named `name` on the wire (e.g. a code returned by a Redis script), if any.
std::optional<ErrorCode> from_string(std::string_view name) noexcept;
// The reason text of a close frame with this code: the name of the first error of the table
// that closes with it ("normal" for 1000, "" for a code the table does not know).
std::string_view close_reason(std::uint16_t code) noexcept;
// The JSON body of an HTTP error: {"error":"<name>","message":"<message or the default text>"}.
std::string http_error_body(ErrorCode code, std::string_view message = {});

}  // namespace sig::protocol
