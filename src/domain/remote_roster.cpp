#include "domain/remote_roster.hpp"

#include <algorithm>

#include "domain/session.hpp"

namespace sig::domain {

void RemoteRoster::departed(std::string_view connection_id, SteadyTime now, std::string forward_user) {
  std::erase_if(tombstones_, [&](const Tombstone& t) { return now - t.at >= kTombstoneLife; });
  if (tombstones_.size() >= kMaxTombstones) tombstones_.erase(tombstones_.begin());
  tombstones_.push_back({std::string(connection_id), now, std::move(forward_user)});
  // A connection that left is no member any more: nothing is kept for it here.
  std::erase(orphans_, connection_id);
}

bool RemoteRoster::gone(std::string_view connection_id, SteadyTime now) const {
  return std::any_of(tombstones_.begin(), tombstones_.end(), [&](const Tombstone& t) {
    return t.connection_id == connection_id && now - t.at < kTombstoneLife;
  });
}

std::vector<std::string> RemoteRoster::forward_users(std::string_view connection_id) const {
  std::vector<std::string> out;
  for (const auto& t : tombstones_) {
    if (t.connection_id == connection_id && !t.forward_user.empty()) out.push_back(t.forward_user);
  }
  return out;
}

void RemoteRoster::orphan(std::string_view connection_id) {
  if (!orphaned(connection_id)) orphans_.emplace_back(connection_id);
}

void RemoteRoster::adopt(std::string_view connection_id) {
  std::erase(orphans_, connection_id);
}

bool RemoteRoster::orphaned(std::string_view connection_id) const {
  return std::find(orphans_.begin(), orphans_.end(), connection_id) != orphans_.end();
}

void RemoteRoster::forget_orphans() {
  orphans_.clear();
}

RemoteRoster::Admission RemoteRoster::admit(const Members& members, const RosterEntry& entry, SteadyTime now,
                                            bool resumed) const {
  if (entry.connection_id.empty() || gone(entry.connection_id, now)) return {};
  const auto existing = std::find_if(members.begin(), members.end(),
                                     [&](const auto& m) { return m->user_id() == entry.identity.user_id; });
  const auto index = static_cast<std::size_t>(existing - members.begin());
  if (resumed && existing != members.end()) {
    // Resumed on its node: its own connection announced again (that node was presumed dead, or
    // Redis lost its data), or a new connection taking the old one's place.
    if ((*existing)->connection_id() == entry.connection_id) return {Admit::back, index};
    return {Admit::resume, index};
  }
  for (const auto& m : members) {
    if (m->connection_id() == entry.connection_id) return {};
  }
  if (existing == members.end()) return {Admit::add, 0};
  if ((*existing)->seq() > entry.seq) return {};  // a stale view of an older connection
  // The same place in the join order: the same incarnation, resumed on another connection (its
  // resume event was missed): no departure, no newcomer.
  if ((*existing)->seq() == entry.seq && entry.seq != 0) return {Admit::resume, index};
  return {Admit::replace, index};
}

std::vector<std::string> RemoteRoster::unlisted(const Members& members,
                                                const std::vector<RosterEntry>& roster, std::uint64_t seq,
                                                std::string_view keep_user) {
  std::vector<std::string> out;
  for (const auto& m : members) {
    if (m->local() || m->seq() > seq) continue;  // local ones are this node's; later ones unread
    if (!keep_user.empty() && m->user_id() == keep_user) continue;
    const bool listed = std::any_of(roster.begin(), roster.end(), [&](const RosterEntry& e) {
      return e.connection_id == m->connection_id();
    });
    if (!listed) out.push_back(m->connection_id());
  }
  return out;
}

std::vector<const RosterEntry*> RemoteRoster::join_order(const std::vector<RosterEntry>& roster) {
  std::vector<const RosterEntry*> ordered;
  ordered.reserve(roster.size());
  for (const auto& e : roster)
    ordered.push_back(&e);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->seq < b->seq; });
  return ordered;
}

std::shared_ptr<Participant> RemoteRoster::make_remote(const RosterEntry& entry, SteadyTime now) {
  Identity identity = entry.identity;
  if (identity.display_name.empty()) identity.display_name = identity.user_id;
  return std::make_shared<Participant>(std::move(identity), entry.connection_id, std::weak_ptr<Endpoint>{},
                                       now, false, entry.seq);
}

std::vector<RosterEntry> RemoteRoster::remote_members(const Members& members) {
  std::vector<RosterEntry> out;
  for (const auto& m : members) {
    if (!m->local()) out.push_back({{m->user_id(), m->display_name()}, m->connection_id(), m->seq()});
  }
  return out;
}

}  // namespace sig::domain
