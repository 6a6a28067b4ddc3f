#pragma once
// What the signaling service needs from the cluster layer when several nodes share one store:
// admission through the store (atomic across nodes) and delivery to connections of other nodes.
// Implemented by cluster::Node; absent on a single node.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "domain/hub.hpp"

namespace sig::domain {

// The refusal's text, for the join and the admin API alike.
inline constexpr std::string_view kSessionIdRefused =
    "with Redis Cluster a sessionId cannot begin with '}' (its keys' hash tag would be empty)";

class ClusterPort {
 public:
  virtual ~ClusterPort() = default;
  using JoinDone = std::function<void(HubJoin)>;
  // Admits the connection through the shared store, then joins it to the hub's session. The store
  // decides whether `resume` resumes the user's incarnation. `done` runs once, later, on another
  // thread.
  virtual void join(std::string session_id, Identity identity, std::string connection_id,
                    std::weak_ptr<Endpoint> endpoint, ResumeRequest resume, JoinDone done) = 0;
  // False for a session id the shared store cannot hold (Redis Cluster: one that begins with
  // '}', keys.hpp): a join or an admin call on it is refused as a bad request.
  virtual bool accepts_session_id(std::string_view /*session_id*/) const { return true; }
  // Read before Session::relay() decides that a message goes to another node; given back to
  // relay(). It changes when this node, presumed dead, closes its connections: a message whose
  // sender passed Session::relay() just before that is dropped, not sent after the others were
  // told the sender left.
  virtual std::uint64_t relay_epoch() const = 0;
  // Sends an already built message from `from_user_id` to a connection of another node
  // (fire-and-forget); dropped when `epoch` (relay_epoch()) is no longer current.
  virtual void relay(std::string_view session_id, std::string_view connection_id,
                     std::string_view from_user_id, Payload message, std::uint64_t epoch) = 0;
  // Re-reads one session from the shared store into the hub (creating, updating or removing this
  // node's copy), so the admin API answers with what the store holds, also for a session another
  // node or the platform's backend wrote. `done` runs once, later, on another thread; also when
  // the store cannot be reached (the copy then stays as it was): `read` is false then.
  virtual void refresh(std::string session_id, std::function<void(bool read)> done) = 0;
  // A mark to give flush(): taken before an admin operation, it separates the writes the
  // operation makes from earlier ones.
  virtual std::uint64_t write_mark() const = 0;
  // `done` runs once every write this node has sent to the store so far has been applied there
  // (or has failed), so an admin call answers only when any node would read its result.
  // `applied` is false when the store refused a write sent after `mark` (e.g. out of memory) or
  // could not be reached: the admin API then answers 503, never 2xx. Conservative: a failed write
  // of another caller after the mark counts too.
  virtual void flush(std::uint64_t mark, std::function<void(bool applied)> done) = 0;
};

}  // namespace sig::domain
