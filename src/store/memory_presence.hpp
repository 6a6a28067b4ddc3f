#pragma once
// The embedded store: the user story's presence layout kept in this process, for a single node.
//   session:ws:{sessionId}                   -> connections(sessionId): userId -> connection id
//   session:heartbeat:{sessionId}:{userId}   -> last_heartbeat(sessionId, userId)
// Entries are removed when the participant or the session goes away, so no TTL is needed here;
// the Redis store (several nodes) adds the TTLs.
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "domain/presence.hpp"

namespace sig::store {

class MemoryPresence final : public domain::PresenceSink {
 public:
  void connected(std::string_view session_id, std::string_view user_id,
                 std::string_view connection_id) override;
  void disconnected(std::string_view session_id, std::string_view user_id,
                    std::string_view connection_id) override;
  void heartbeat(std::string_view session_id, std::string_view user_id, domain::WallTime at) override;
  void session_closed(std::string_view session_id) override;

  std::map<std::string, std::string> connections(const std::string& session_id) const;
  std::optional<domain::WallTime> last_heartbeat(const std::string& session_id,
                                                 const std::string& user_id) const;

 private:
  static std::string heartbeat_key(std::string_view session_id, std::string_view user_id);
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::map<std::string, std::string>> connections_;
  std::unordered_map<std::string, domain::WallTime> heartbeats_;
};

}  // namespace sig::store
