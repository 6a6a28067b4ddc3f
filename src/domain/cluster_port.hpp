#pragma once
// What the signaling service needs from the cluster layer when several nodes share one store:
// admission through the store (atomic across nodes) and delivery to connections of other nodes.
// Implemented by cluster::Node; absent on a single node.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "domain/hub.hpp"

namespace sig::domain {

class ClusterPort {
 public:
  virtual ~ClusterPort() = default;
  using JoinDone = std::function<void(HubJoin)>;
  // Admits the connection through the shared store, then joins it to the hub's session. `done`
  // runs once, later, on another thread.
  virtual void join(std::string session_id, Identity identity, std::string connection_id,
                    std::weak_ptr<Endpoint> endpoint, JoinDone done) = 0;
  // Sends an already built message to a connection of another node (fire-and-forget).
  virtual void relay(std::string_view session_id, std::string_view connection_id, Payload message) = 0;
};

}  // namespace sig::domain
