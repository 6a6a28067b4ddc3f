#include "cluster/admission.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>

#include "common/log.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

using domain::HubJoin;
using protocol::ErrorCode;
using redis::Reply;

void Admission::join(std::string session_id, domain::Identity identity, std::string connection_id,
                     std::weak_ptr<domain::Endpoint> endpoint, domain::ResumeRequest resume,
                     domain::ClusterPort::JoinDone done) {
  auto& hub = *ctx_.hub;
  if (ctx_.displaced) {
    // Another process holds this node id (liveness_claim.cpp): try again, on another instance.
    done({ErrorCode::store_unavailable, nullptr, nullptr});
    return;
  }
  if (!ctx_.client->connected()) {
    // Redis is down: admit against this node's copy; the state is written when Redis is back.
    // A session this node does not hold may well exist (other nodes host it): come back later.
    if (!hub.has_session(session_id)) {
      done({ErrorCode::store_unavailable, nullptr, nullptr});
      return;
    }
    done(hub.join(session_id, identity, std::move(connection_id), std::move(endpoint), nullptr, &resume));
    return;
  }
  ctx_.pending_add(connection_id);
  JoinArgs args{std::move(session_id),         std::move(identity), std::move(connection_id),
                ctx_.options.max_participants, ctx_.options.ws_ttl, 0,
                ctx_.options.heartbeat_ttl,    resume.presented,    resume.fresh};
  boost::asio::dispatch(ctx_.strand, [this, args = std::move(args), endpoint = std::move(endpoint),
                                      resume = std::move(resume), done = std::move(done)]() mutable {
    const auto session = args.session_id;
    mirror_.host(session, [this, args = std::move(args), endpoint = std::move(endpoint),
                           resume = std::move(resume), done = std::move(done)](bool in_time) mutable {
      if (!in_time) {
        // The channel's shard did not confirm the subscription: an event of the session could be
        // missed, and the store is likely unreachable there too. Come back later (1013).
        log::warn("join: the session channel's subscription was not confirmed in time",
                  {{"node", ctx_.node_id()}, {"session", utf8::printable(args.session_id)}});
        ctx_.pending_remove(args.connection_id);
        done({ErrorCode::store_unavailable, nullptr, nullptr});
        mirror_.joined(args.session_id);
        return;
      }
      run_script(std::move(args), std::move(endpoint), std::move(resume), std::move(done));
    });
  });
}

void Admission::run_script(JoinArgs args, std::weak_ptr<domain::Endpoint> endpoint,
                           domain::ResumeRequest resume, domain::ClusterPort::JoinDone done) {
  args.now_ms = ctx_.now_ms();
  auto call = encode(ctx_.layout, args);
  ctx_.run(call, [this, session_id = std::move(args.session_id), identity = std::move(args.identity),
                  connection_id = std::move(args.connection_id), endpoint = std::move(endpoint),
                  resume = std::move(resume),
                  done = std::move(done)](std::error_code ec, const Reply& reply) mutable {
    const std::function<void(HubJoin)> finish = [&](HubJoin j) {
      ctx_.pending_remove(connection_id);
      done(std::move(j));
      mirror_.joined(session_id);
    };
    auto decoded = ec ? std::nullopt : decode_join(reply);
    if (ec == redis::Errc::server_error || (!ec && !decoded)) {
      // Redis refused (e.g. out of memory) or answered nonsense: nothing says the session is not
      // there, so the client is told to come back (1013), not that it is gone (4404).
      log::error("join script failed", {{"node", ctx_.node_id()},
                                        {"session", utf8::printable(session_id)},
                                        {"error", utf8::printable(reply.str)}});
      finish({ErrorCode::store_unavailable, nullptr, nullptr});
      return;
    }
    if (ec) {  // Redis (or the session's shard) went away meanwhile: the script may have run or not
      doubtful_.insert(connection_id);
      if (!ctx_.hub->has_session(session_id)) {
        // No copy here to admit against: nothing says the session is gone (1013, not 4404).
        finish({ErrorCode::store_unavailable, nullptr, nullptr});
        return;
      }
      finish(ctx_.hub->join(session_id, identity, connection_id, endpoint, nullptr, &resume));
      return;
    }
    if (decoded->refused) {
      finish({*decoded->refused, nullptr, nullptr});
      return;
    }
    admitted(session_id, identity, connection_id, endpoint, *decoded, finish);
  });
}

void Admission::admitted(const std::string& session_id, const domain::Identity& identity,
                         const std::string& connection_id, const std::weak_ptr<domain::Endpoint>& endpoint,
                         const JoinReply& r, const std::function<void(HubJoin)>& finish) {
  auto& hub = *ctx_.hub;
  auto& seen = seen_seq_[session_id];
  seen = std::max(seen, r.seq);
  std::string why;
  if (auto record = record_from_fields(session_id, r.dir, ctx_.clock.wall_now(), nullptr, &why)) {
    hub.apply_record(session_id, *record);
  } else {
    ctx_.skipped(ctx_.layout.dir(session_id), why);
  }
  domain::ClusterJoin cj;
  cj.seq = r.seq;
  cj.remove_missing = ctx_.settled();
  cj.resumed = r.resumed;
  cj.resume_id = r.resume_id;
  std::vector<std::string> bad;
  for (auto& e : roster_from(r.ws, r.peers, &bad)) {
    if (e.identity.user_id != identity.user_id && !ctx_.mine(e.connection_id))
      cj.roster.push_back(std::move(e));
  }
  for (const auto& b : bad)
    ctx_.skipped(ctx_.layout.ws(session_id), b);
  if (!cj.resumed && superseded(session_id, identity, connection_id, r)) {
    finish({ErrorCode::replaced, nullptr, nullptr});
    return;
  }
  // The domain's events of this join are held: the script's verdict on a replaced connection goes
  // first, and nothing is emitted for a join taken back. Only around the hub's join: whatever runs
  // after it on this thread (the caller's `done`) publishes as usual.
  std::vector<domain::PlatformEvent> held;
  HubJoin joined;
  {
    EventGate::Hold hold;
    joined = hub.join(session_id, identity, connection_id, endpoint, &cj);
    held = hold.take();
  }
  if (joined.error) {
    // Refused by this node's copy (e.g. it has just ended): take the entry back, and the
    // attendance as it was (no connection was admitted).
    writes_.leave(session_id, identity.user_id, connection_id, false, ignore_reply, r.attendance_before);
    finish(std::move(joined));
    return;
  }
  if (!r.previous.empty() && !cj.resumed) {
    // This script replaced the entry: this node says so, wherever the old connection was.
    ctx_.emit_participant(domain::EventType::participant_left, session_id, identity.user_id, r.replaced_name,
                          domain::LeftReason::replaced);
  }
  for (auto& e : held) {
    if (e.type == domain::EventType::participant_left && e.left_reason == domain::LeftReason::replaced &&
        e.user_id == identity.user_id)
      continue;  // decided by the script (above)
    ctx_.gate.emit(std::move(e));
  }
  if (!r.previous.empty()) {
    log::debug("replacing a connection",
               {{"node", ctx_.node_id()}, {"connection", utf8::printable(r.previous)}});
  }
  // Fenced (fence.hpp): not announced while this node may have been presumed dead.
  ctx_.fence->submit(
      [this, channel = ctx_.layout.session_channel(session_id),
       event = encode_joined({{identity.user_id, joined.participant->display_name()}, connection_id, r.seq},
                             cj.resumed)] { ctx_.publish(channel, event); });
  finish(std::move(joined));
}

}  // namespace sig::cluster
