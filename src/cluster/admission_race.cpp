// Admission: the same user joining on two nodes at the same instant. The join script orders the
// two joins (their seq); the later one is the user's connection. The node of the earlier one can
// hear of the later one (its `joined` on the session channel) before the reply of its own script:
// the hub would then admit the earlier connection and take the later one for the stale one, and
// both connections would stay live until a sync. So the earlier one is refused here as replaced
// (error `replaced`, close 4440: docs/protocol.md, "Replacement").
#include "cluster/admission.hpp"
#include "common/log.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

bool Admission::superseded(const std::string& session_id, const domain::Identity& identity,
                           const std::string& connection_id, const JoinReply& reply) {
  for (const auto& [session, member] : ctx_.hub->remote_members()) {
    if (session != session_id || member.identity.user_id != identity.user_id || member.seq <= reply.seq)
      continue;
    log::debug("a newer join of this user is known already: refused as replaced",
               {{"node", ctx_.node_id()},
                {"session", utf8::printable(session_id)},
                {"connection", connection_id},
                {"newer", utf8::printable(member.connection_id)}});
    // The script recorded this connection (its attendance counts it) and the newer join's node
    // announces its replacement: the join is announced too, so the platform's events pair up.
    ctx_.emit_participant(domain::EventType::participant_joined, session_id, identity.user_id,
                          identity.display_name, std::nullopt);
    return true;
  }
  return false;
}

}  // namespace sig::cluster
