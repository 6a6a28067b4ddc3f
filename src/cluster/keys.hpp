#pragma once
// The Redis layout of the several-node mode (docs/deployment.md, "Redis layout").
//
// Two layouts: with --redis (one server) the user story's names (`session:ws:<id>`); with
// --redis-cluster every key and channel of a session carries the hash tag `{<id>}` so that a
// script's keys share one slot, and the node's keys carry `{<nodeId>}`. Publishing from a script
// is PUBLISH on one server and SPUBLISH (sharded pub/sub) in a cluster: scripts.hpp has both
// variants and the layout says which one to run.
#include <string>
#include <string_view>

namespace sig::cluster {

namespace keys {

inline std::string cat(std::string_view a, std::string_view b) {
  std::string s;
  s.reserve(a.size() + b.size());
  s.append(a);
  s.append(b);
  return s;
}

// The node of a connection id `<node-id>:<counter>`.
inline std::string_view node_of(std::string_view connection_id) {
  const auto colon = connection_id.rfind(':');
  return colon == std::string_view::npos ? std::string_view{} : connection_id.substr(0, colon);
}

}  // namespace keys

class Layout {
 public:
  Layout() = default;
  explicit Layout(bool cluster) : cluster_(cluster) {}
  bool cluster() const noexcept { return cluster_; }
  // PUBLISH or SPUBLISH: for the node's own publishes (the scripts have their variant).
  std::string_view publish() const noexcept { return cluster_ ? "SPUBLISH" : "PUBLISH"; }
  // In a cluster, a session id that begins with '}' would make an empty hash tag (`{}`): Redis
  // then hashes each whole key, a session's keys land in different slots and every script on them
  // fails (CROSSSLOT). Such ids are refused at the door (join, admin API). Any other id works: the
  // tag is the id up to its first '}', the same for every key of the session.
  bool accepts(std::string_view session_id) const noexcept {
    return !cluster_ || !session_id.starts_with('}');
  }

  // The session directory entry: hash (hostUserId, participants JSON, durationSeconds, status,
  // createdAt, startedAt, endedAt, endReason, joinSeq).
  std::string dir(std::string_view id) const { return session_key("session:dir:", id); }
  // The user story's hash: userId -> connection id (`<node-id>:<counter>`). TTL 1800 s.
  std::string ws(std::string_view id) const { return session_key("session:ws:", id); }
  // Beside it: userId -> `<seq>|<displayName>` of the connected participant. Same TTL.
  std::string peers(std::string_view id) const { return session_key("session:peers:", id); }
  // Beside it: userId -> the resumeId of its incarnation (docs/protocol.md, "Resume"). Same TTL.
  std::string resume(std::string_view id) const { return session_key("session:resume:", id); }
  // Attendance: userId -> JSON {"n","f","l","c","t","s","r"} (docs/deployment.md). No TTL while
  // the session lives; expires with the ended entry after the retention; deleted with it.
  std::string attendance(std::string_view id) const { return session_key("session:attendance:", id); }
  // The user story's string: epoch milliseconds of the last heartbeat. TTL 45 s.
  std::string heartbeat(std::string_view id, std::string_view user_id) const {
    return keys::cat(heartbeat_prefix(id), user_id);
  }
  // The scripts that delete every participant's heartbeat key build them from this prefix (in the
  // session's slot in cluster mode: no KEYS/SCAN inside a script).
  std::string heartbeat_prefix(std::string_view id) const {
    return keys::cat(session_key("session:heartbeat:", id), ":");
  }
  // A node's liveness: refreshed every third of --node-ttl, expires after it.
  std::string alive(std::string_view node_id) const { return keys::cat(node_channel(node_id), ":alive"); }
  // Pub/sub: directed delivery to one node, and one channel per session for its events.
  std::string node_channel(std::string_view node_id) const { return tagged("signaling:node:", node_id); }
  std::string session_channel(std::string_view id) const { return session_key("signaling:session:", id); }
  // The session id of a session channel (empty when `channel` is not one).
  std::string session_of_channel(std::string_view channel) const {
    constexpr std::string_view prefix = "signaling:session:";
    if (!channel.starts_with(prefix)) return {};
    channel.remove_prefix(prefix.size());
    if (cluster_) {
      if (channel.size() < 2 || channel.front() != '{' || channel.back() != '}') return {};
      channel = channel.substr(1, channel.size() - 2);
    }
    return std::string(channel);
  }

 private:
  std::string session_key(std::string_view prefix, std::string_view id) const { return tagged(prefix, id); }
  std::string tagged(std::string_view prefix, std::string_view id) const {
    if (!cluster_) return keys::cat(prefix, id);
    std::string s;
    s.reserve(prefix.size() + id.size() + 2);
    s.append(prefix).append("{").append(id).append("}");
    return s;
  }
  bool cluster_ = false;
};

}  // namespace sig::cluster
