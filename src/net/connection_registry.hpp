#pragma once
// The open WebSocket connections of this process, and whether it is draining (SIGTERM,
// app/drain.hpp). The drain needs the list to tell every connection to move (close 1012), and
// the count to know when the last one is gone; the transport needs the flag to refuse new
// upgrades (HTTP 503 `draining`). Connections are held weakly: the registry never keeps one alive.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "domain/endpoint.hpp"

namespace sig::net {

class ConnectionRegistry {
 public:
  using Id = std::uint64_t;
  struct Added {
    Id id = 0;
    bool draining = false;  // the drain had started: refuse this connection (close 1012)
  };

  // A connection whose socket is open. Under the same lock as start_draining(): a connection is
  // either in the drain's list or told that the drain has started, never neither.
  Added add(std::weak_ptr<domain::Endpoint> connection);
  // Its socket is closed (called again, or with an id never added: nothing happens).
  void remove(Id id);
  std::size_t size() const;

  // Sets the flag (once) and returns the connections open at that instant.
  std::vector<std::weak_ptr<domain::Endpoint>> start_draining();
  bool draining() const noexcept;

 private:
  mutable std::mutex mu_;
  std::unordered_map<Id, std::weak_ptr<domain::Endpoint>> open_;  // guarded by mu_
  Id next_ = 1;                                                   // guarded by mu_
  std::atomic<bool> draining_{false};  // written under mu_ (add() reads it there); read anywhere
};

}  // namespace sig::net
