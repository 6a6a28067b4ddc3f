#pragma once
// What this node's sessions do, written to Redis (the domain's PresenceSink calls, through the
// Node): departures, losses, heartbeats, start and end, directory changes and deletions. The
// scripts that decide platform events tell, in their reply, whether this node emits the event
// (docs/architecture.md, "Who emits an event"); the gate (events.hpp) holds the domain's copy until
// then. The leave script has one call site: leave().
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "cluster/context.hpp"

namespace sig::cluster {

class Writes {
 public:
  explicit Writes(Context& ctx) : ctx_(ctx) {}

  // The leave script: removes the entry while it names this connection and publishes the
  // departure when it did (or always). `undo`: the attendance to put back ('-': none) instead of
  // closing the interval (a join the hub refused after its script).
  void leave(std::string_view session_id, std::string_view user_id, std::string_view connection_id,
             bool always_publish, redis::ReplyCallback cb, std::string undo = {});
  // Another node's participant goes (its node is gone, its window expired here, or a stale entry
  // of this node): participant.left (disconnected) if this node's script removed it.
  void leave_remote(std::string_view session_id, std::string_view user_id, std::string_view connection_id,
                    std::string display_name);
  // Another node's participant is lost with its node: participant.reconnecting if this node's
  // script recorded the loss first.
  void lost_remote(const std::string& session_id, const domain::RosterEntry& member);

  void disconnected(std::string_view session_id, std::string_view user_id, std::string_view connection_id);
  void lost(std::string_view session_id, std::string_view user_id, std::string_view connection_id);
  void expired(std::string_view session_id, std::string_view user_id, std::string_view connection_id);
  void started(std::string_view session_id, domain::WallTime at);
  void ended(std::string_view session_id, domain::EndReason reason, domain::WallTime at);
  void directory_changed(std::string_view session_id, const domain::SessionSpec& spec,
                         domain::WallTime created_at);
  void deleted(std::string_view session_id);

  // A heartbeat: kept until the next flush_heartbeats() (the node's tick), the latest per
  // participant; a participant's key is written at most once per heartbeat interval (less one tick,
  // for the clients' jitter), all of a tick's in one pipelined batch. Any thread.
  void heartbeat(std::string_view session_id, std::string_view user_id, domain::WallTime at);
  // On the strand. SET ... XX: a participant who left meanwhile (the leave script deleted its
  // key) does not get its key back.
  void flush_heartbeats();

 private:
  Context& ctx_;
  std::mutex heartbeats_mu_;
  std::map<std::pair<std::string, std::string>, domain::WallTime> heartbeats_;  // (session, user)
  // On the strand: when each participant's key was last written.
  std::map<std::pair<std::string, std::string>, domain::SteadyTime> written_;
};

}  // namespace sig::cluster
