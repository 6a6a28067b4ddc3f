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

// 2026-11-24T10:15:30.123Z (milliseconds optional).
std::optional<domain::WallTime> parse_iso8601(std::string_view text);

// [{"userId":"u1","displayName":"Alice"},...]: the directory's participants field.
std::string participants_json(const std::vector<domain::Identity>& participants);
std::optional<std::vector<domain::Identity>> parse_participants(std::string_view json);

using Fields = std::vector<std::pair<std::string, std::string>>;
// A flat HGETALL reply (field, value, field, value...).
Fields fields_of(const redis::Reply& reply);
const std::string* field(const Fields& fields, std::string_view name);

// The directory entry from its hash. nullopt when the hash is empty or its participants field is
// missing or not valid. `join_seq` gets the joinSeq counter (0 when absent).
std::optional<domain::SessionSnapshot> record_from_fields(std::string_view session_id, const Fields& dir,
                                                          domain::WallTime now,
                                                          std::uint64_t* join_seq = nullptr);
// The hash fields of a directory entry (no joinSeq), for HSET.
Fields fields_of_record(const domain::SessionSnapshot& record);

// session:peers values: `<seq>|<displayName>`.
std::string peer_value(std::uint64_t seq, std::string_view display_name);
// Everyone in session:ws with their session:peers details, in join order.
std::vector<domain::RosterEntry> roster_from(const Fields& ws, const Fields& peers);

// Events on signaling:session:{sessionId} (JSON objects, field "e").
struct Event {
  enum class Kind { joined, left, changed, deleted };
  Kind kind = Kind::changed;
  domain::RosterEntry member;  // joined: all of it; left: user id and connection id
};
std::string encode_joined(const domain::RosterEntry& member);
std::string encode_left(std::string_view user_id, std::string_view connection_id);
std::string encode_changed();
std::string encode_deleted();
std::optional<Event> decode_event(std::string_view text);

// Directed messages on signaling:node:{nodeId}: a relayed message for one connection.
// Framing: `<session length>:<session id><connection length>:<connection id><payload>`.
std::string encode_relay(std::string_view session_id, std::string_view connection_id,
                         std::string_view payload);
struct Relay {
  std::string_view session_id;
  std::string_view connection_id;
  std::string_view payload;
};
std::optional<Relay> decode_relay(std::string_view frame);

}  // namespace sig::cluster
