#pragma once
// What the domain tells the outside about its sessions: presence (the user story's
// session:ws:{sessionId} hash and session:heartbeat:{sessionId}:{userId} keys) and lifecycle
// changes made on this node. Implemented by the store module (one node) and by the cluster
// module (several nodes sharing Redis). Calls are fire-and-forget, may come with a session's
// mutex held, and must neither block nor call back into the domain.
#include <string_view>

#include "domain/clock.hpp"
#include "domain/endpoint.hpp"
#include "domain/types.hpp"

namespace sig::domain {

class PresenceSink {
 public:
  virtual ~PresenceSink() = default;
  virtual void connected(std::string_view session_id, std::string_view user_id,
                         std::string_view connection_id) = 0;
  // Only removes the entry while it still names this connection (a newer one may have replaced it).
  virtual void disconnected(std::string_view session_id, std::string_view user_id,
                            std::string_view connection_id) = 0;
  virtual void heartbeat(std::string_view session_id, std::string_view user_id, WallTime at) = 0;
  virtual void session_closed(std::string_view session_id) = 0;

  // Lifecycle and directory changes decided on this node (not those applied from another node).
  virtual void started(std::string_view /*session_id*/, WallTime /*at*/) {}
  virtual void ended(std::string_view /*session_id*/, EndReason /*reason*/, WallTime /*at*/) {}
  virtual void directory_changed(std::string_view /*session_id*/, const SessionSpec& /*spec*/,
                                 WallTime /*created_at*/) {}
  virtual void deleted(std::string_view /*session_id*/) {}

  // Resume (several nodes; a single node needs none of these).
  // A local participant's connection was lost: it keeps its place (the others are told).
  virtual void lost(std::string_view /*session_id*/, std::string_view /*user_id*/,
                    std::string_view /*connection_id*/) {}
  // A remote participant whose node is gone did not come back within the resume window: its
  // entry is removed unless it still names that connection.
  virtual void expired(std::string_view /*session_id*/, std::string_view /*user_id*/,
                       std::string_view /*connection_id*/) {}
  // A message for a connection of another node (messages kept for a participant who resumed
  // there, or an `undelivered` error for a sender there).
  virtual void send_remote(std::string_view /*session_id*/, std::string_view /*connection_id*/,
                           const Payload& /*message*/) {}
};

}  // namespace sig::domain
