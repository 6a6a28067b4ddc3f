#include "protocol/client_message.hpp"

#include <simdjson.h>

#include <string>

namespace sig::protocol {

static_assert(MessageParser::kPadding >= simdjson::SIMDJSON_PADDING);

namespace {

constexpr std::size_t kMaxUserIdBytes = 256;

struct Fields {
  std::string_view type;
  simdjson::dom::element to_user_id;
  simdjson::dom::element sdp;
  simdjson::dom::element candidate;
  simdjson::dom::element ts;
  bool has_type = false, has_to = false, has_sdp = false, has_candidate = false, has_ts = false;
};

std::optional<MessageType> type_from(std::string_view t) {
  if (t == "offer") return MessageType::offer;
  if (t == "answer") return MessageType::answer;
  if (t == "ice-candidate") return MessageType::ice_candidate;
  if (t == "heartbeat") return MessageType::heartbeat;
  if (t == "start-session") return MessageType::start_session;
  if (t == "end-session") return MessageType::end_session;
  if (t == "leave") return MessageType::leave;
  return std::nullopt;
}

ParseError invalid(std::string_view detail) {
  return ParseError{ErrorCode::invalid_message, detail};
}

// Records one field; a duplicate of a field the server reads would let the server and the
// receiving client see different values, so it is refused.
std::optional<ParseError> take(bool& seen, simdjson::dom::element& slot, simdjson::dom::element value,
                               std::string_view duplicate_detail) {
  if (seen) return invalid(duplicate_detail);
  seen = true;
  slot = value;
  return std::nullopt;
}

std::optional<ParseError> collect(simdjson::dom::object object, Fields& f) {
  for (const auto field : object) {
    const std::string_view key = field.key;
    std::optional<ParseError> err;
    if (key == "type") {
      if (f.has_type) return invalid("duplicate field 'type'");
      f.has_type = true;
      if (field.value.get_string().get(f.type) != simdjson::SUCCESS)
        return invalid("'type' must be a string");
    } else if (key == "toUserId") {
      err = take(f.has_to, f.to_user_id, field.value, "duplicate field 'toUserId'");
    } else if (key == "sdp") {
      err = take(f.has_sdp, f.sdp, field.value, "duplicate field 'sdp'");
    } else if (key == "candidate") {
      err = take(f.has_candidate, f.candidate, field.value, "duplicate field 'candidate'");
    } else if (key == "ts") {
      err = take(f.has_ts, f.ts, field.value, "duplicate field 'ts'");
    } else if (key == "fromUserId") {
      return invalid("'fromUserId' is set by the server; a client must not send it");
    }
    if (err) return err;
  }
  if (!f.has_type) return invalid("the message has no 'type'");
  return std::nullopt;
}

std::optional<ParseError> validate(const Fields& f, ClientMessage& out) {
  const auto type = type_from(f.type);
  if (!type) return ParseError{ErrorCode::unknown_type, "unknown message type"};
  out.type = *type;
  out.to_user_id = {};
  out.ts.reset();
  if (is_relayed(*type)) {
    std::string_view to;
    if (!f.has_to || f.to_user_id.get_string().get(to) != simdjson::SUCCESS) {
      return invalid("'toUserId' must be a string");
    }
    if (to.empty() || to.size() > kMaxUserIdBytes) return invalid("'toUserId' must be 1 to 256 bytes long");
    out.to_user_id = to;
    if (*type == MessageType::ice_candidate) {
      if (!f.has_candidate || !f.candidate.is_object()) return invalid("'candidate' must be an object");
    } else {
      std::string_view sdp;
      if (!f.has_sdp || f.sdp.get_string().get(sdp) != simdjson::SUCCESS)
        return invalid("'sdp' must be a string");
      if (sdp.empty()) return invalid("'sdp' must not be empty");
    }
  } else if (*type == MessageType::heartbeat && f.has_ts && f.ts.is_number()) {
    double ts = 0;
    if (f.ts.get_double().get(ts) == simdjson::SUCCESS) out.ts = ts;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(MessageType type) noexcept {
  switch (type) {
    case MessageType::offer: return "offer";
    case MessageType::answer: return "answer";
    case MessageType::ice_candidate: return "ice-candidate";
    case MessageType::heartbeat: return "heartbeat";
    case MessageType::start_session: return "start-session";
    case MessageType::end_session: return "end-session";
    case MessageType::leave: return "leave";
  }
  return "unknown";
}

struct MessageParser::Impl {
  simdjson::dom::parser parser;
  std::string scratch;  // for parse_copy
};

MessageParser::MessageParser() : impl_(std::make_unique<Impl>()) {}
MessageParser::~MessageParser() = default;

std::optional<ParseError> MessageParser::parse(std::string_view padded_text, ClientMessage& out) {
  simdjson::dom::element doc;
  if (impl_->parser.parse(padded_text.data(), padded_text.size(), false).get(doc) != simdjson::SUCCESS) {
    return ParseError{ErrorCode::invalid_json, "the message is not valid JSON"};
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) return invalid("the message must be a JSON object");
  Fields fields;
  if (auto err = collect(object, fields)) return err;
  return validate(fields, out);
}

std::optional<ParseError> MessageParser::parse_copy(std::string_view text, ClientMessage& out) {
  auto& s = impl_->scratch;
  s.assign(text);
  s.append(kPadding, '\0');
  return parse(std::string_view(s.data(), text.size()), out);
}

}  // namespace sig::protocol
