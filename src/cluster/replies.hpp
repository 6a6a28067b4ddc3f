#pragma once
// Typed replies of the scripts that decide events (scripts.hpp), and the attendance entries of
// session:attendance:{sessionId}. Pure; unit-tested in tests/unit/cluster_codec_test.cpp. Like
// codec.hpp, everything here came from Redis and is checked (UTF-8, ranges) before use.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/codec.hpp"
#include "domain/events.hpp"
#include "redis/client.hpp"

namespace sig::cluster {

// One entry: {"n":name,"f":firstJoinMs,"l":lastLeftMs|false,"c":connections,"t":connectedMs,
// "s":openSinceMs|false,"r":lostAtMs|false}. nullopt when it is not that (or a time is out of
// range, or the name not UTF-8).
std::optional<domain::AttendanceRecord> parse_attendance(std::string_view user_id, std::string_view json);
std::string attendance_json(const domain::AttendanceRecord& record);
// The whole hash, in join order (first join, then user id); bad entries are skipped (one reason
// each in `skipped`).
std::vector<domain::AttendanceRecord> attendance_from(const Fields& hash,
                                                      std::vector<std::string>* skipped = nullptr);

struct LeaveReply {
  bool removed = false;
  std::string display_name;                   // of the removed entry ('' when unknown)
  std::optional<domain::WallTime> closed_at;  // when its interval closed (the loss time if lost)
};
std::optional<LeaveReply> decode_leave(const redis::Reply& reply);

struct LostReply {
  bool changed = false;  // this call set the loss time (the first node to see it)
  std::string display_name;
};
std::optional<LostReply> decode_lost(const redis::Reply& reply);

struct EndReply {
  bool changed = false;                              // this call ended the session
  std::vector<domain::AttendanceRecord> attendance;  // closed, join order
  std::vector<domain::RosterEntry> present;          // who was there at the end (seq order; no connection id)
  std::optional<domain::WallTime> started_at;
};
std::optional<EndReply> decode_end(const redis::Reply& reply, std::vector<std::string>* skipped = nullptr);

struct RestoreReply {
  bool applied = false;
  std::vector<std::string> resumed;   // their loss cleared: reconnected
  std::vector<std::string> rejoined;  // their closed entry re-opened: joined
};
std::optional<RestoreReply> decode_restore(const redis::Reply& reply);

}  // namespace sig::cluster
