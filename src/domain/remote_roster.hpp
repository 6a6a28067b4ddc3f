#pragma once
// The cluster-only part of a session (several nodes sharing Redis): what a session needs to keep
// its copy of the other nodes' participants in line with the store and with their events.
//
// A remote participant is a Participant without endpoint, in the session's member list beside
// the local ones (the relay and the join order treat both alike). What only the cluster needs is
// here: the tombstones (connections gone recently, so a late or reordered event cannot bring them
// back), the orphans (remote participants whose node is gone: messages for them are kept here),
// and the decisions an event or a roster from the store leads to. RemoteRoster decides; the
// Session applies (it owns the members, the endpoints and the messages). On a single node it
// stays empty: a few departed connections remembered for ten seconds, nothing else.
//
// Not thread-safe: the owning Session calls it under its mutex.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"
#include "domain/types.hpp"

namespace sig::domain {

class Participant;

// A participant as the shared store lists it: who, on which connection (`<node-id>:<n>`), when
// in the join order. A resume keeps the seq: an equal seq is the same incarnation.
struct RosterEntry {
  Identity identity;
  std::string connection_id;
  std::uint64_t seq = 0;
};

// A join already admitted by the shared store (several nodes): the store checked the cap and
// gave the join its place; `roster` is everyone else it listed right after the join.
struct ClusterJoin {
  std::uint64_t seq = 0;
  std::vector<RosterEntry> roster;
  // False while the store may still lack entries that other nodes are writing again (after Redis
  // came back): remote participants missing from the roster are then kept.
  bool remove_missing = true;
  // The store's verdict on the resume, and the incarnation's resumeId.
  bool resumed = false;
  std::string resume_id;
};

// A participant connected to this node, for the cluster layer (re-writing the store).
struct LocalMember {
  std::string session_id;
  Identity identity;
  std::string connection_id;
  std::uint64_t seq = 0;
  std::string resume_id;
  // Reconnecting (its connection lost, within its resume window), and when it was lost if the
  // attendance knows: a restore keeps it lost in the store.
  bool reconnecting = false;
  std::optional<WallTime> lost_at;
};

class RemoteRoster {
 public:
  using Members = std::vector<std::shared_ptr<Participant>>;

  // --- Tombstones. A member left (or, with `forward_user`, resumed on another connection:
  // messages still addressed to the old one follow that user).
  void departed(std::string_view connection_id, SteadyTime now, std::string forward_user = {});
  // The connection left within the last kTombstoneLife.
  bool gone(std::string_view connection_id, SteadyTime now) const;
  // The users a message for a resumed connection follows (oldest tombstone first; whatever its
  // age: a message in flight may come late); none when it did not resume.
  std::vector<std::string> forward_users(std::string_view connection_id) const;

  // --- Orphans: remote participants whose node is gone (reconnecting, messages kept here).
  void orphan(std::string_view connection_id);
  void adopt(std::string_view connection_id);  // its node announced it again
  bool orphaned(std::string_view connection_id) const;
  void forget_orphans();  // the member list was emptied

  // --- What a remote participant's arrival (an event or a roster entry) does to the members.
  enum class Admit {
    ignore,   // known already, older than the user's current connection, or recently gone
    add,      // a newcomer
    replace,  // a newer connection of the user at `existing`: that one leaves (replaced) first
    resume,   // the same incarnation on another connection: takes `existing`'s place silently
    back,     // `existing` is this very connection, whose node announces it again
  };
  struct Admission {
    Admit action = Admit::ignore;
    std::size_t existing = 0;  // index in the members (replace, resume, back)
  };
  // `resumed`: the other node said the user resumed there.
  Admission admit(const Members& members, const RosterEntry& entry, SteadyTime now,
                  bool resumed = false) const;
  // The remote members a roster read at `seq` no longer lists (those who joined later are kept,
  // and `keep_user`'s): their connection ids, in member order.
  static std::vector<std::string> unlisted(const Members& members, const std::vector<RosterEntry>& roster,
                                           std::uint64_t seq, std::string_view keep_user = {});
  // The roster in join order (stable: equal seqs keep the store's order).
  static std::vector<const RosterEntry*> join_order(const std::vector<RosterEntry>& roster);
  // A remote participant for `entry` (its user id stands in for a missing display name).
  static std::shared_ptr<Participant> make_remote(const RosterEntry& entry, SteadyTime now);
  static std::vector<RosterEntry> remote_members(const Members& members);

  static constexpr auto kTombstoneLife = std::chrono::seconds(10);
  static constexpr std::size_t kMaxTombstones = 64;

 private:
  struct Tombstone {
    std::string connection_id;
    SteadyTime at;
    std::string forward_user;
  };
  std::vector<Tombstone> tombstones_;
  std::vector<std::string> orphans_;
};

}  // namespace sig::domain
