// RemoteRoster on its own: the tombstones, the orphans, and the decisions a remote participant's
// arrival or a roster from the store leads to (the Session applies them: cluster_session_test).
#include "domain/remote_roster.hpp"

#include <gtest/gtest.h>

#include "domain/session.hpp"

using namespace sig;
using namespace std::chrono_literals;
using domain::RemoteRoster;
using domain::RosterEntry;
using Admit = RemoteRoster::Admit;

namespace {

constexpr domain::SteadyTime t0{std::chrono::hours(1)};

RosterEntry entry(const std::string& user, const std::string& conn, std::uint64_t seq) {
  return {{user, "Name " + user}, conn, seq};
}

std::shared_ptr<domain::Participant> local(const std::string& user, const std::string& conn,
                                           std::uint64_t seq) {
  return std::make_shared<domain::Participant>(domain::Identity{user, user}, conn,
                                               std::weak_ptr<domain::Endpoint>{}, t0, true, seq);
}

std::shared_ptr<domain::Participant> remote(const std::string& user, const std::string& conn,
                                            std::uint64_t seq) {
  return RemoteRoster::make_remote(entry(user, conn, seq), t0);
}

}  // namespace

TEST(RemoteRosterTest, ADepartedConnectionIsGoneForTheTombstonesLifeOnly) {
  RemoteRoster r;
  EXPECT_FALSE(r.gone("n2:1", t0));
  r.departed("n2:1", t0);
  EXPECT_TRUE(r.gone("n2:1", t0 + 9s));
  EXPECT_FALSE(r.gone("n2:2", t0 + 1s));
  EXPECT_FALSE(r.gone("n2:1", t0 + RemoteRoster::kTombstoneLife));
}

TEST(RemoteRosterTest, TombstonesAreBoundedOldestFirst) {
  RemoteRoster r;
  for (std::size_t i = 0; i <= RemoteRoster::kMaxTombstones; ++i)
    r.departed("n2:" + std::to_string(i), t0);
  EXPECT_FALSE(r.gone("n2:0", t0)) << "the oldest made room";
  EXPECT_TRUE(r.gone("n2:1", t0));
  EXPECT_TRUE(r.gone("n2:" + std::to_string(RemoteRoster::kMaxTombstones), t0));
}

TEST(RemoteRosterTest, AResumedConnectionForwardsToItsUserEvenWhenOld) {
  RemoteRoster r;
  r.departed("n1:1", t0, "a");
  r.departed("n1:2", t0);  // left without resuming: forwards nowhere
  EXPECT_EQ(r.forward_users("n1:1"), std::vector<std::string>{"a"});
  EXPECT_TRUE(r.forward_users("n1:2").empty());
  EXPECT_TRUE(r.forward_users("n1:3").empty());
  // A message in flight may come after the tombstone's life: it still finds its user.
  EXPECT_FALSE(r.gone("n1:1", t0 + 10s));
  EXPECT_EQ(r.forward_users("n1:1"), std::vector<std::string>{"a"});
  // Until a later departure clears the expired tombstones.
  r.departed("n1:9", t0 + 11s);
  EXPECT_TRUE(r.forward_users("n1:1").empty());
}

TEST(RemoteRosterTest, OrphansAreMarkedAdoptedAndForgotten) {
  RemoteRoster r;
  r.orphan("n2:1");
  r.orphan("n2:1");
  r.orphan("n3:1");
  EXPECT_TRUE(r.orphaned("n2:1"));
  r.adopt("n2:1");
  EXPECT_FALSE(r.orphaned("n2:1")) << "marked twice, adopted once: back";
  EXPECT_TRUE(r.orphaned("n3:1"));
  r.departed("n3:1", t0);
  EXPECT_FALSE(r.orphaned("n3:1")) << "a departed connection keeps nothing here";
  r.orphan("n4:1");
  r.forget_orphans();
  EXPECT_FALSE(r.orphaned("n4:1"));
}

TEST(RemoteRosterTest, AdmitsNewcomersAndIgnoresWhatIsKnownOrGone) {
  RemoteRoster r;
  const RemoteRoster::Members members{local("a", "n1:1", 1), remote("b", "n2:1", 2)};
  EXPECT_EQ(r.admit(members, entry("c", "n2:2", 3), t0).action, Admit::add);
  EXPECT_EQ(r.admit(members, entry("b", "n2:1", 2), t0).action, Admit::ignore) << "the same event again";
  EXPECT_EQ(r.admit(members, entry("c", "", 3), t0).action, Admit::ignore) << "no connection";
  r.departed("n2:2", t0);
  EXPECT_EQ(r.admit(members, entry("c", "n2:2", 3), t0 + 1s).action, Admit::ignore) << "a late join";
  EXPECT_EQ(r.admit(members, entry("c", "n2:2", 3), t0 + 11s).action, Admit::add);
}

TEST(RemoteRosterTest, ANewerConnectionReplacesAnOlderOneIsIgnoredAndAnEqualSeqResumes) {
  RemoteRoster r;
  const RemoteRoster::Members members{local("a", "n1:1", 1), remote("b", "n2:1", 4)};
  const auto newer = r.admit(members, entry("b", "n3:1", 5), t0);
  EXPECT_EQ(newer.action, Admit::replace);
  EXPECT_EQ(newer.existing, 1U);
  EXPECT_EQ(r.admit(members, entry("b", "n3:1", 3), t0).action, Admit::ignore) << "a stale view";
  const auto same = r.admit(members, entry("b", "n3:1", 4), t0);
  EXPECT_EQ(same.action, Admit::resume) << "the same incarnation on another connection";
  EXPECT_EQ(same.existing, 1U);
  EXPECT_EQ(r.admit(members, entry("a", "n2:9", 1), t0).action, Admit::resume) << "also a local one";
  // Seq 0 is no place in a join order (a node that had no Redis): a new connection replaces.
  const RemoteRoster::Members unordered{remote("b", "n2:1", 0)};
  EXPECT_EQ(r.admit(unordered, entry("b", "n3:1", 0), t0).action, Admit::replace);
}

TEST(RemoteRosterTest, AResumeEventResumesOrBringsBackTheSameConnection) {
  RemoteRoster r;
  const RemoteRoster::Members members{local("a", "n1:1", 1), remote("b", "n2:1", 2)};
  const auto back = r.admit(members, entry("b", "n2:1", 2), t0, true);
  EXPECT_EQ(back.action, Admit::back);
  EXPECT_EQ(back.existing, 1U);
  EXPECT_EQ(r.admit(members, entry("b", "n3:1", 2), t0, true).action, Admit::resume);
  EXPECT_EQ(r.admit(members, entry("c", "n3:2", 3), t0, true).action, Admit::add) << "not known: joins";
  r.departed("n3:1", t0);
  EXPECT_EQ(r.admit(members, entry("b", "n3:1", 2), t0 + 1s, true).action, Admit::ignore);
}

TEST(RemoteRosterTest, UnlistedKeepsLocalLaterAndTheJoiningUsersMembers) {
  const RemoteRoster::Members members{local("a", "n1:1", 1), remote("b", "n2:1", 2), remote("c", "n2:2", 3),
                                      remote("d", "n3:1", 6), remote("e", "n3:2", 4)};
  const std::vector<RosterEntry> roster{entry("c", "n2:2", 3)};
  EXPECT_EQ(RemoteRoster::unlisted(members, roster, 5), (std::vector<std::string>{"n2:1", "n3:2"}))
      << "a is this node's; d joined after the roster was read";
  EXPECT_EQ(RemoteRoster::unlisted(members, roster, 5, "e"), std::vector<std::string>{"n2:1"});
  EXPECT_TRUE(RemoteRoster::unlisted(members, {entry("b", "n2:1", 2), entry("c", "n2:2", 3)}, 3).empty());
}

TEST(RemoteRosterTest, JoinOrderIsBySeqAndStable) {
  const std::vector<RosterEntry> roster{entry("c", "n2:3", 3), entry("a", "n2:1", 1), entry("x", "n4:1", 0),
                                        entry("b", "n3:1", 1)};
  std::vector<std::string> users;
  for (const auto* e : RemoteRoster::join_order(roster))
    users.push_back(e->identity.user_id);
  EXPECT_EQ(users, (std::vector<std::string>{"x", "a", "b", "c"}));
}

TEST(RemoteRosterTest, RemoteParticipantsAndTheirListing) {
  const auto p = RemoteRoster::make_remote({{"b", ""}, "n2:1", 7}, t0);
  EXPECT_FALSE(p->local());
  EXPECT_EQ(p->display_name(), "b") << "the user id stands in for a missing name";
  EXPECT_EQ(p->seq(), 7U);
  EXPECT_EQ(p->endpoint(), nullptr);
  const RemoteRoster::Members members{local("a", "n1:1", 1), p, remote("c", "n3:1", 9)};
  const auto listed = RemoteRoster::remote_members(members);
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].connection_id, "n2:1");
  EXPECT_EQ(listed[0].identity.display_name, "b");
  EXPECT_EQ(listed[1].identity.display_name, "Name c");
  EXPECT_EQ(listed[1].seq, 9U);
}
