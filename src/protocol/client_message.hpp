#pragma once
// Parsing and validation of the messages a client sends (docs/protocol.md section 3).
// Pure: no I/O. One parser per thread; the views it returns live until its next parse().
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "protocol/codes.hpp"

namespace sig::protocol {

enum class MessageType { offer, answer, ice_candidate, heartbeat, start_session, end_session, leave };

std::string_view to_string(MessageType type) noexcept;

constexpr bool is_relayed(MessageType t) noexcept {
  return t == MessageType::offer || t == MessageType::answer || t == MessageType::ice_candidate;
}

struct ClientMessage {
  MessageType type = MessageType::heartbeat;
  std::string_view to_user_id;  // relayed types only
  std::optional<double> ts;     // heartbeat only, when the client sent a number
};

struct ParseError {
  ErrorCode code;
  std::string_view detail;  // a static, human-readable sentence
};

class MessageParser {
 public:
  // parse() reads up to kPadding bytes past the end of the text: the caller's buffer must have
  // them (their content does not matter). parse_copy() has no such requirement.
  static constexpr std::size_t kPadding = 64;

  MessageParser();
  ~MessageParser();
  MessageParser(const MessageParser&) = delete;
  MessageParser& operator=(const MessageParser&) = delete;

  std::optional<ParseError> parse(std::string_view padded_text, ClientMessage& out);
  std::optional<ParseError> parse_copy(std::string_view text, ClientMessage& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sig::protocol
