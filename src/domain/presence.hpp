#pragma once
// Where the hub records who is connected where (the user story's session:ws:{sessionId} hash
// and session:heartbeat:{sessionId}:{userId} keys). Implemented by the store module; calls are
// fire-and-forget and must not block.
#include <string_view>

#include "domain/clock.hpp"

namespace sig::domain {

class PresenceSink {
 public:
  virtual ~PresenceSink() = default;
  virtual void connected(std::string_view session_id, std::string_view user_id, std::string_view connection_id) = 0;
  // Only removes the entry while it still names this connection (a newer one may have replaced it).
  virtual void disconnected(std::string_view session_id, std::string_view user_id,
                            std::string_view connection_id) = 0;
  virtual void heartbeat(std::string_view session_id, std::string_view user_id, WallTime at) = 0;
  virtual void session_closed(std::string_view session_id) = 0;
};

}  // namespace sig::domain
