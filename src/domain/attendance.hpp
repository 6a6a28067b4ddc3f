#pragma once
// One session's attendance on this node (docs/webhooks.md, "Attendance"): per user, the first
// join, the last departure, the connections admitted (joins and resumes) and the connected time.
// A plain value kept by its Session under the session's mutex; times come from the caller (the
// session's clock), so the unit tests drive it to the millisecond.
//
// The rules of the connected time: an interval opens at a join; a lost connection keeps it open
// (the participant may resume, and a resumed gap counts as connected); a resume keeps it open; a
// resume window that expires closes it at the loss (the gap did not count after all); any other
// departure closes it when it happens; the session's end closes every open interval at the end.
#include <optional>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"
#include "domain/events.hpp"

namespace sig::domain {

class Attendance {
 public:
  // A fresh incarnation was admitted: one more connection; the interval opens unless open.
  void joined(std::string_view user_id, std::string_view display_name, WallTime at);
  // A resume was admitted: one more connection; the interval stays open (opens if it was closed).
  void resumed(std::string_view user_id, std::string_view display_name, WallTime at);
  // The connection was lost, with a resume window: the interval stays open; `at` is remembered.
  void lost(std::string_view user_id, WallTime at);
  // A departure (leave, close, timeout, replacement, removal): the interval closes at `at`.
  void left(std::string_view user_id, WallTime at);
  // The resume window closed without a resume: the interval closes at the loss (at `at` when no
  // loss was recorded).
  void expired(std::string_view user_id, WallTime at);
  // The session ended: every open interval closes at `at`.
  void end(WallTime at);

  // Several nodes: the store's attendance (session:attendance, kept by the scripts) replaces this
  // node's partial view, which only knows its own participants. Loss times are not carried.
  void adopt(std::vector<AttendanceRecord> records);

  // Everyone who ever joined, in join order; `connected` holds the closed intervals only (the
  // open one is `connected_since`; see connected_as_of).
  std::vector<AttendanceRecord> records() const;
  // When the open interval's connection was lost (a participant within its resume window).
  std::optional<WallTime> lost_at(std::string_view user_id) const;
  bool empty() const noexcept { return entries_.empty(); }

 private:
  struct Entry {
    AttendanceRecord record;
    std::optional<WallTime> lost_at;  // the open interval's connection was lost at this time
  };
  Entry* find(std::string_view user_id);
  Entry& admit(std::string_view user_id, std::string_view display_name, WallTime at);
  static void close(Entry& e, WallTime at);

  std::vector<Entry> entries_;  // join order; a session has a handful of users: a linear search
};

}  // namespace sig::domain
