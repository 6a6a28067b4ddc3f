#include "store/memory_presence.hpp"

namespace sig::store {

std::string MemoryPresence::heartbeat_key(std::string_view session_id, std::string_view user_id) {
  std::string key(session_id);
  key.push_back('\0');  // user ids may contain ':'; NUL cannot appear in either
  key.append(user_id);
  return key;
}

void MemoryPresence::connected(std::string_view session_id, std::string_view user_id,
                               std::string_view connection_id) {
  std::lock_guard lock(mu_);
  connections_[std::string(session_id)][std::string(user_id)] = std::string(connection_id);
}

void MemoryPresence::disconnected(std::string_view session_id, std::string_view user_id,
                                  std::string_view connection_id) {
  std::lock_guard lock(mu_);
  auto s = connections_.find(std::string(session_id));
  if (s == connections_.end()) return;
  auto u = s->second.find(std::string(user_id));
  if (u == s->second.end() || u->second != connection_id) return;
  s->second.erase(u);
  heartbeats_.erase(heartbeat_key(session_id, user_id));
  if (s->second.empty()) connections_.erase(s);
}

void MemoryPresence::heartbeat(std::string_view session_id, std::string_view user_id, domain::WallTime at) {
  std::lock_guard lock(mu_);
  heartbeats_[heartbeat_key(session_id, user_id)] = at;
}

void MemoryPresence::session_closed(std::string_view session_id) {
  std::lock_guard lock(mu_);
  auto s = connections_.find(std::string(session_id));
  if (s == connections_.end()) return;
  for (const auto& [user, conn] : s->second)
    heartbeats_.erase(heartbeat_key(session_id, user));
  connections_.erase(s);
}

std::map<std::string, std::string> MemoryPresence::connections(const std::string& session_id) const {
  std::lock_guard lock(mu_);
  auto s = connections_.find(session_id);
  return s == connections_.end() ? std::map<std::string, std::string>{} : s->second;
}

std::optional<domain::WallTime> MemoryPresence::last_heartbeat(const std::string& session_id,
                                                               const std::string& user_id) const {
  std::lock_guard lock(mu_);
  auto h = heartbeats_.find(heartbeat_key(session_id, user_id));
  if (h == heartbeats_.end()) return std::nullopt;
  return h->second;
}

}  // namespace sig::store
