#include "domain/attendance.hpp"

#include <string>

namespace sig::domain {

Attendance::Entry* Attendance::find(std::string_view user_id) {
  for (auto& e : entries_) {
    if (e.record.user_id == user_id) return &e;
  }
  return nullptr;
}

Attendance::Entry& Attendance::admit(std::string_view user_id, std::string_view display_name, WallTime at) {
  Entry* e = find(user_id);
  if (e == nullptr) {
    Entry fresh;
    fresh.record.user_id = std::string(user_id);
    fresh.record.first_joined = at;
    entries_.push_back(std::move(fresh));
    e = &entries_.back();
  }
  // The latest name is the one the platform knows it by now.
  if (!display_name.empty()) e->record.display_name = std::string(display_name);
  ++e->record.connections;
  e->lost_at.reset();
  e->record.last_left.reset();
  if (!e->record.connected_since) e->record.connected_since = at;
  return *e;
}

void Attendance::joined(std::string_view user_id, std::string_view display_name, WallTime at) {
  (void)admit(user_id, display_name, at);
}

void Attendance::resumed(std::string_view user_id, std::string_view display_name, WallTime at) {
  (void)admit(user_id, display_name, at);
}

void Attendance::lost(std::string_view user_id, WallTime at) {
  Entry* e = find(user_id);
  if (e == nullptr || !e->record.connected_since || e->lost_at) return;
  e->lost_at = at;
}

void Attendance::close(Entry& e, WallTime at) {
  if (!e.record.connected_since) return;
  // Never before the interval opened (a wall clock stepped back): an empty interval.
  if (at < *e.record.connected_since) at = *e.record.connected_since;
  e.record.connected += std::chrono::duration_cast<std::chrono::milliseconds>(at - *e.record.connected_since);
  e.record.connected_since.reset();
  e.record.last_left = at;
  e.lost_at.reset();
}

void Attendance::left(std::string_view user_id, WallTime at) {
  if (Entry* e = find(user_id)) close(*e, at);
}

void Attendance::expired(std::string_view user_id, WallTime at) {
  if (Entry* e = find(user_id)) close(*e, e->lost_at.value_or(at));
}

// A participant still reconnecting when the session ends never came back: its time ends at the
// loss, as when its window closes (and as the end script does with several nodes).
void Attendance::end(WallTime at) {
  for (auto& e : entries_)
    close(e, e.lost_at.value_or(at));
}

void Attendance::adopt(std::vector<AttendanceRecord> records) {
  // The store's figures replace this copy's, but a loss this node saw stays known while the
  // interval is open: a restore needs it (the participant is still reconnecting here).
  std::vector<Entry> next;
  next.reserve(records.size());
  for (auto& r : records) {
    const Entry* old = find(r.user_id);
    const bool keep = old != nullptr && old->lost_at && r.connected_since;
    next.push_back({std::move(r), keep ? old->lost_at : std::nullopt});
  }
  entries_ = std::move(next);
}

std::optional<WallTime> Attendance::lost_at(std::string_view user_id) const {
  for (const auto& e : entries_) {
    if (e.record.user_id == user_id) return e.lost_at;
  }
  return std::nullopt;
}

std::vector<AttendanceRecord> Attendance::records() const {
  std::vector<AttendanceRecord> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_)
    out.push_back(e.record);
  return out;
}

}  // namespace sig::domain
