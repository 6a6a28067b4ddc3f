// Fuzz target: any bytes, parsed as a client message (docs/protocol.md section 3), give either a
// ParseError or a message that obeys the parser's promises, never a crash. For an accepted
// message the target also builds what the server sends in reply (the relayed form with the
// sender's suffix, the heartbeat acknowledgement, an error naming the target) and checks that
// each is one valid JSON object, since those bytes go to other browsers.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/client_message.hpp"
#include "protocol/server_messages.hpp"

namespace {

using sig::protocol::ClientMessage;
using sig::protocol::MessageParser;

constexpr std::string_view kSender = "sender-\"\\\x01-\xc3\xa9";  // escapes and UTF-8 in the suffix

// The bytes the server would send must be one JSON object with the given string field.
void expect_object(simdjson::dom::parser& parser, const std::string& text, std::string_view key,
                   std::string_view value) {
  simdjson::dom::object object;
  if (parser.parse(text).get_object().get(object) != simdjson::SUCCESS) std::abort();
  std::string_view got;
  if (object[key].get_string().get(got) != simdjson::SUCCESS || got != value) std::abort();
}

void check_replies(const ClientMessage& msg, std::string_view text) {
  static simdjson::dom::parser parser;
  if (sig::protocol::is_relayed(msg.type)) {
    if (msg.to_user_id.empty() || msg.to_user_id.size() > 256) std::abort();
    // The view points into the text that was parsed (or the parser's copy of it).
    const std::string relayed = sig::protocol::relayed(text, sig::protocol::from_user_suffix(kSender));
    expect_object(parser, relayed, "fromUserId", kSender);
    expect_object(parser, relayed, "toUserId", msg.to_user_id);
    const std::string refusal =
        sig::protocol::error(sig::protocol::ErrorCode::target_not_connected, "not connected", msg.to_user_id);
    expect_object(parser, refusal, "toUserId", msg.to_user_id);
  } else if (!msg.to_user_id.empty()) {
    std::abort();  // only relayed types carry a target
  }
  if (msg.ts) {
    if (msg.type != sig::protocol::MessageType::heartbeat) std::abort();
    const std::string ack = sig::protocol::heartbeat_ack(msg.ts);
    simdjson::dom::object object;
    if (parser.parse(ack).get_object().get(object) != simdjson::SUCCESS) std::abort();
    double echoed = 0;
    if (object["ts"].get_double().get(echoed) != simdjson::SUCCESS) {
      std::int64_t as_int = 0;  // whole numbers are written without a fraction
      if (object["ts"].get_int64().get(as_int) != simdjson::SUCCESS) std::abort();
      echoed = static_cast<double>(as_int);
    }
    if (echoed != *msg.ts) std::abort();  // the acknowledgement echoes the client's number exactly
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static MessageParser parser;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // parse() as the connection calls it: in place, with the padding after the text.
  std::string padded(input);
  padded.append(MessageParser::kPadding, '\0');
  ClientMessage in_place;
  const auto err = parser.parse(std::string_view(padded.data(), size), in_place);
  if (!err) check_replies(in_place, std::string_view(padded.data(), size));

  // parse_copy() must decide the same way.
  ClientMessage copied;
  const auto copy_err = parser.parse_copy(input, copied);
  if (err.has_value() != copy_err.has_value()) std::abort();
  if (err && (err->code != copy_err->code || err->detail != copy_err->detail)) std::abort();
  if (!err && (copied.type != in_place.type || copied.ts != in_place.ts)) std::abort();
  return 0;
}
