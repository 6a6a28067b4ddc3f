#pragma once
// Typed calls of the Lua scripts (scripts.hpp): each script's arguments as a struct, encoded into
// its KEYS and ARGV for one layout (keys.hpp), and its reply decoded into a struct. Pure; the
// only place that knows the scripts' argument and reply positions. Unit-tested in
// tests/unit/cluster_calls_test.cpp (encoding) and cluster_scripts_test.cpp (against Redis).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/codec.hpp"
#include "cluster/keys.hpp"
#include "cluster/replies.hpp"
#include "domain/types.hpp"
#include "protocol/codes.hpp"
#include "redis/client.hpp"

namespace sig::cluster {

// A script, its KEYS and its ARGV, ready for eval.
struct ScriptCall {
  ScriptCall() = default;
  // Not an aggregate: the encoders brace-initialize the first three members only.
  ScriptCall(const redis::Script* s, std::vector<std::string> k, std::vector<std::string> a)
      : script(s), keys(std::move(k)), args(std::move(a)) {}
  const redis::Script* script = nullptr;
  std::vector<std::string> keys;
  std::vector<std::string> args;
  // Set for the scripts that change a session's next deadline (put, start, leave): after the
  // reply, the session's deadline entry is touched (deadlines.hpp).
  std::string deadline_of;
  // The put script: when it created the session (reply 1), its deadline is this (createdAt, ms)
  // plus --start-timeout rather than now: declaring many sessions costs no check each.
  std::int64_t deadline_created_ms = 0;
};

std::int64_t ms_of(domain::WallTime t);

struct JoinArgs {
  std::string session_id;
  domain::Identity identity;  // display name: the token's ('' to use the directory's)
  std::string connection_id;
  std::size_t max_participants = 6;
  std::chrono::seconds ws_ttl{1800};
  std::int64_t now_ms = 0;  // the heartbeat value and the attendance's "now"
  std::chrono::seconds heartbeat_ttl{45};
  std::string presented_resume;  // '' none
  std::string fresh_resume;      // the resumeId of a new incarnation
};
struct JoinReply {
  std::optional<protocol::ErrorCode> refused;  // set: nothing else is
  std::string previous;                        // the replaced connection id ('' none)
  std::uint64_t seq = 0;
  Fields ws, peers, dir;
  bool resumed = false;
  std::string resume_id;          // valid UTF-8 or ''
  std::string attendance_before;  // the user's entry before ('-' none): for an undo
  std::string replaced_name;      // the replaced connection's display name ('' unknown)
};
ScriptCall encode(const Layout& layout, const JoinArgs& a);
// nullopt: not a reply of the join script (the caller answers store_unavailable).
std::optional<JoinReply> decode_join(const redis::Reply& reply);

struct LeaveArgs {
  std::string session_id, user_id, connection_id;
  bool always_publish = false;  // publish the departure even when the entry was not this one
  std::int64_t now_ms = 0;
  std::string undo;  // the attendance to put back ('-' delete, '' none: close the interval)
};
ScriptCall encode(const Layout& layout, const LeaveArgs& a);  // decode_leave (replies.hpp)

struct LostArgs {
  std::string session_id, user_id, connection_id;
  std::int64_t now_ms = 0;
  bool publish = true;  // announce participant reconnecting on the session channel
};
ScriptCall encode(const Layout& layout, const LostArgs& a);  // decode_lost (replies.hpp)

struct StartArgs {
  std::string session_id;
  domain::WallTime at;
};
ScriptCall encode(const Layout& layout, const StartArgs& a);
std::optional<bool> decode_start(const redis::Reply& reply);  // true: this call started it

struct EndArgs {
  std::string session_id;
  domain::EndReason reason = domain::EndReason::completed;
  domain::WallTime at;
  std::chrono::milliseconds retention{3'600'000};
};
ScriptCall encode(const Layout& layout, const EndArgs& a);  // decode_end (replies.hpp)

struct PutArgs {
  std::string session_id;
  domain::SessionSpec spec;
  domain::WallTime created_at;
};
ScriptCall encode(const Layout& layout, const PutArgs& a);

struct RemoveArgs {
  std::string session_id;
};
ScriptCall encode(const Layout& layout, const RemoveArgs& a);

struct SnapshotArgs {
  std::string session_id;
};
struct SnapshotReply {
  Fields dir, ws, peers, attendance;
};
ScriptCall encode(const Layout& layout, const SnapshotArgs& a);
std::optional<SnapshotReply> decode_snapshot(const redis::Reply& reply);

struct RestoreMember {
  std::string user_id, connection_id, display_name, resume_id;
  std::uint64_t seq = 0;
  std::string attendance_json;          // this node's view ('' none)
  std::optional<std::int64_t> lost_ms;  // still reconnecting here: since when
};
struct RestoreArgs {
  std::string session_id;
  std::string node_id;
  std::chrono::seconds ws_ttl{1800};
  std::int64_t now_ms = 0;
  std::chrono::seconds heartbeat_ttl{45};
  std::uint64_t known_seq = 0;  // the highest join seq this node read in its join replies
  Fields dir;                   // written when Redis has no entry
  std::vector<std::string> doubtful;
  std::vector<RestoreMember> members;
};
ScriptCall encode(const Layout& layout, const RestoreArgs& a);  // decode_restore (replies.hpp)

}  // namespace sig::cluster
