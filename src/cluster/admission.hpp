#pragma once
// The join path (ClusterPort::join): the join script checks status, membership and the cap
// atomically across nodes; then the local hub joins the connection with the script's roster, and
// the node publishes the join on the session's channel. The node subscribes to the session's
// channel before the script runs (Mirror::host), so every event after the script's read reaches it.
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cluster/context.hpp"
#include "cluster/mirror.hpp"
#include "cluster/writes.hpp"
#include "domain/cluster_port.hpp"

namespace sig::cluster {

class Admission {
 public:
  Admission(Context& ctx, Writes& writes, Mirror& mirror) : ctx_(ctx), writes_(writes), mirror_(mirror) {
    // A session no longer hosted has nothing to restore: its seq is not kept (one entry per
    // session ever joined otherwise). A later join reads a fresh seq from its reply.
    mirror_.on_release([this](const std::string& session_id) { seen_seq_.erase(session_id); });
  }

  // Any thread; `done` runs on the strand (or inline when Redis is down).
  void join(std::string session_id, domain::Identity identity, std::string connection_id,
            std::weak_ptr<domain::Endpoint> endpoint, domain::ResumeRequest resume,
            domain::ClusterPort::JoinDone done);

  // What restore() needs (on the strand): per session, the highest join seq this node has read in
  // its join replies; and the connections whose join reply was lost (the script may or may not
  // have run). Restore uses both to tell this node's stale entries from joins that reached Redis
  // before it.
  std::unordered_map<std::string, std::uint64_t>& seen_seq() { return seen_seq_; }
  std::unordered_set<std::string>& doubtful() { return doubtful_; }

 private:
  void admitted(const std::string& session_id, const domain::Identity& identity,
                const std::string& connection_id, const std::weak_ptr<domain::Endpoint>& endpoint,
                const JoinReply& reply, const std::function<void(domain::HubJoin)>& finish);

  void run_script(JoinArgs args, std::weak_ptr<domain::Endpoint> endpoint, domain::ResumeRequest resume,
                  domain::ClusterPort::JoinDone done);
  // admission_race.cpp: a newer join of the same user (a higher seq) is known here already: its
  // announcement came before this join's reply. This connection lost: it is refused as replaced.
  bool superseded(const std::string& session_id, const domain::Identity& identity,
                  const std::string& connection_id, const JoinReply& reply);

  Context& ctx_;
  Writes& writes_;
  Mirror& mirror_;
  std::unordered_map<std::string, std::uint64_t> seen_seq_;
  std::unordered_set<std::string> doubtful_;
};

}  // namespace sig::cluster
