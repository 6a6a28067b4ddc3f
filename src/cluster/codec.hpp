#pragma once
// Pure conversions between the domain and the Redis layout / the messages between nodes.
// No I/O; unit-tested in tests/unit/cluster_codec_test.cpp.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/session.hpp"
#include "domain/types.hpp"
#include "redis/client.hpp"

namespace sig::cluster {

// Everything read here came from Redis, which anyone with access to it (the platform's backend, an
// operator, an attacker who reached it) may have written: every string handed on is valid UTF-8
// (a browser must never get a text frame that is not, and nlohmann's dump() would throw), every
// number and time stamp is in range, and what is not is refused (nullopt, or the entry skipped)
// with a reason for the log, never a crash.

// The years a stored time stamp may name. Outside them it is refused: a time_point of the system
// clock counts nanoseconds in 64 bits (1677..2262), so year 9999 used to wrap around silently.
inline constexpr int kMinStoredYear = 2000;
inline constexpr int kMaxStoredYear = 2199;

// 2026-11-24T10:15:30.123Z (milliseconds optional), years kMinStoredYear..kMaxStoredYear.
std::optional<domain::WallTime> parse_iso8601(std::string_view text);

// [{"userId":"u1","displayName":"Alice"},...]: the directory's participants field.
std::string participants_json(const std::vector<domain::Identity>& participants);
std::optional<std::vector<domain::Identity>> parse_participants(std::string_view json);

using Fields = std::vector<std::pair<std::string, std::string>>;
// A flat HGETALL reply (field, value, field, value...).
Fields fields_of(const redis::Reply& reply);
const std::string* field(const Fields& fields, std::string_view name);

// The directory entry from its hash. nullopt when the hash is empty, its participants field is
// missing or not valid, the session id or a string is not UTF-8, durationSeconds is not an integer
// from 0 to domain::kMaxSessionDurationSeconds, or a time stamp is present but not valid (then
// `why`, if given, says which). `join_seq` gets the joinSeq counter (0 when absent).
std::optional<domain::SessionSnapshot> record_from_fields(std::string_view session_id, const Fields& dir,
                                                          domain::WallTime now,
                                                          std::uint64_t* join_seq = nullptr,
                                                          std::string* why = nullptr);
// The hash fields of a directory entry (no joinSeq), for HSET.
Fields fields_of_record(const domain::SessionSnapshot& record);

// session:peers values: `<seq>|<displayName>`.
std::string peer_value(std::uint64_t seq, std::string_view display_name);
// Everyone in session:ws with their session:peers details, in join order. An entry whose user id,
// connection id or display name is empty or not UTF-8 is skipped; `skipped`, if given, gets one
// reason per skipped entry (printable: see utf8::printable).
std::vector<domain::RosterEntry> roster_from(const Fields& ws, const Fields& peers,
                                             std::vector<std::string>* skipped = nullptr);

// Events on signaling:session:{sessionId} (JSON objects, field "e").
struct Event {
  enum class Kind { joined, left, reconnecting, changed, deleted };
  Kind kind = Kind::changed;
  domain::RosterEntry member;  // joined: all of it; left, reconnecting: user id and connection id
  bool resumed = false;        // joined: it resumed its incarnation (replaces its old connection)
};
std::string encode_joined(const domain::RosterEntry& member, bool resumed = false);
// A participant's connection was lost; its node keeps its place for the resume window.
std::string encode_reconnecting(std::string_view user_id, std::string_view connection_id);
std::string encode_left(std::string_view user_id, std::string_view connection_id);
std::string encode_changed();
std::string encode_deleted();
std::optional<Event> decode_event(std::string_view text);

// Directed messages on signaling:node:{nodeId}: a relayed message for one connection, and who sent
// it (told when the message is dropped for a participant who does not come back).
// Framing: `<length>:<session id><length>:<connection id><length>:<sender's user id><payload>`.
std::string encode_relay(std::string_view session_id, std::string_view connection_id,
                         std::string_view from_user_id, std::string_view payload);
struct Relay {
  std::string_view session_id;
  std::string_view connection_id;
  std::string_view from_user_id;
  std::string_view payload;
};
// nullopt when malformed or when a part is not UTF-8 (the payload goes to a browser as text).
std::optional<Relay> decode_relay(std::string_view frame);

}  // namespace sig::cluster
