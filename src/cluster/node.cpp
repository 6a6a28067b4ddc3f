#include "cluster/node.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "cluster/codec.hpp"
#include "cluster/keys.hpp"
#include "cluster/replies.hpp"
#include "cluster/scripts.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

namespace asio = boost::asio;
using domain::HubJoin;
using protocol::ErrorCode;
using redis::Reply;

namespace {

void ignore_reply(std::error_code, const Reply&) {}

// A refusal named by the join script: one of the admission errors of the table.
std::optional<ErrorCode> refusal(std::string_view code) {
  const auto e = protocol::from_string(code);
  if (e == ErrorCode::session_not_found || e == ErrorCode::session_ended || e == ErrorCode::not_participant ||
      e == ErrorCode::session_full) {
    return e;
  }
  return std::nullopt;
}

// Shared countdown: runs `then` when every started piece of work has reported.
struct Countdown {
  std::size_t left = 1;  // the starter's own share
  std::function<void()> then;
  void done() {
    if (--left == 0 && then) then();
  }
};

}  // namespace

Node::Node(const asio::any_io_executor& ex, const domain::Clock& clock, NodeOptions options,
           domain::EventSink* events)
    : options_(std::move(options)),
      clock_(clock),
      gate_(events),
      strand_(asio::make_strand(ex)),
      timer_(strand_) {
  redis::ClientOptions co;
  co.url = options_.redis_url;
  co.tls = options_.redis_tls;
  co.name = "redis";
  client_ = redis::RedisClient::create(strand_, co);
  // Loaded in every connection's handshake: an EVALSHA that met NOSCRIPT would be sent again
  // behind the commands sent after it (a restore then ran after a join it had not seen).
  for (const auto* script :
       {&scripts::join(), &scripts::leave(), &scripts::lost(), &scripts::start(), &scripts::end(),
        &scripts::put(), &scripts::remove(), &scripts::snapshot(), &scripts::restore()}) {
    client_->preload(*script);
  }
  co.name = "redis-pubsub";
  sub_ = redis::RedisSubscriber::create(strand_, co);
}

Node::~Node() {
  client_->close();
  sub_->close();
}

redis::ReplyCallback Node::tracked_write(std::string_view what) {
  const auto seq = ++writes_sent_;
  return [this, seq, what = std::string(what)](std::error_code ec, const Reply& reply) {
    if (!ec) return;
    last_failed_write_ = std::max(last_failed_write_, seq);
    log::error("redis did not apply a write", {{"node", options_.node_id},
                                               {"write", what},
                                               {"error", ec.message()},
                                               {"reply", utf8::printable(reply.str)}});
  };
}

void Node::skipped(std::string_view key, std::string_view reason) {
  auto entry = utf8::printable(key);
  entry.append(" ").append(reason);
  if (warned_.size() >= 1000) warned_.clear();  // bounded; at worst a line is logged again
  if (!warned_.insert(entry).second) return;
  log::warn("skipped a value read from redis",
            {{"node", options_.node_id}, {"key", utf8::printable(key)}, {"reason", reason}});
}

bool Node::mine(std::string_view connection_id) const {
  return keys::node_of(connection_id) == options_.node_id;
}

std::string Node::now_ms() const {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch()).count());
}

// ---------------------------------------------------------------------------------------------
// Start, readiness, stop

void Node::start(std::function<void(std::error_code)> done) {
  on_start_ = std::move(done);
  client_->on_disconnected([this](std::error_code ec) {
    link_dropped_ = true;  // the alive key may be gone with Redis: not a sign of this node's death
    log::warn("redis connection lost; signaling between nodes is suspended",
              {{"node", options_.node_id}, {"error", ec.message()}});
    update_ready();
  });
  client_->on_reconnected([this] {
    log::info("redis connection back; writing this node's state again", {{"node", options_.node_id}});
    // Let the other nodes write their state again before judging what is missing.
    checks_from_ = (clock_.now() + options_.node_ttl).time_since_epoch().count();
    restore_all([this] { full_sync([this] { update_ready(); }); });
  });
  sub_->on_disconnected([this](std::error_code ec) {
    log::warn("redis pub/sub connection lost", {{"node", options_.node_id}, {"error", ec.message()}});
    update_ready();
  });
  sub_->on_reconnected([this] {
    log::info("redis pub/sub connection back; re-reading the sessions", {{"node", options_.node_id}});
    checks_from_ = (clock_.now() + options_.node_ttl).time_since_epoch().count();
    full_sync([this] { update_ready(); });
  });
  sub_->subscribe(keys::node_channel(options_.node_id),
                  [this](const std::string&, const std::string& m) { on_node_message(m); });
  sub_->psubscribe(std::string(keys::kSessionChannelPrefix) + "*",
                   [this](const std::string& c, const std::string& m) { on_session_message(c, m); });
  if (auto ec = client_->start([this](std::error_code e) { on_started_link(e); })) {
    on_start_(ec);
    return;
  }
  if (auto ec = sub_->start([this](std::error_code e) { on_started_link(e); })) {
    client_->close();
    on_start_(ec);
  }
}

void Node::on_started_link(std::error_code ec) {
  if (started_) return;
  if (ec) {
    started_ = true;  // report the first failure once
    if (on_start_) on_start_(ec);
    return;
  }
  if (++links_up_ < 2) return;
  started_ = true;
  log::info("connected to redis", {{"node", options_.node_id}});
  housekeeping();  // writes the alive key
  full_sync([this] {
    synced_ = true;
    update_ready();
    schedule();
    if (on_start_) on_start_({});
  });
}

void Node::update_ready() {
  asio::dispatch(strand_,
                 [this] { set_ready(synced_ && !stopping_ && client_->connected() && sub_->connected()); });
}

void Node::set_ready(bool ready) {
  if (ready == ready_) return;
  ready_ = ready;
  ready_flag_.store(ready, std::memory_order_relaxed);
  if (on_ready_) on_ready_(ready);
}

void Node::stop() {
  asio::dispatch(strand_, [this] {
    stopping_ = true;
    timer_.cancel();
    set_ready(false);
    client_->call(ignore_reply, "DEL", keys::alive(options_.node_id));
  });
}

void Node::close() {
  client_->close();
  sub_->close();
}

// ---------------------------------------------------------------------------------------------
// Admission and relay

void Node::join(std::string session_id, domain::Identity identity, std::string connection_id,
                std::weak_ptr<domain::Endpoint> endpoint, domain::ResumeRequest resume, JoinDone done) {
  if (!client_->connected()) {
    // Redis is down: admit against this node's copy; the state is written when Redis is back.
    done(hub_->join(session_id, identity, std::move(connection_id), std::move(endpoint), nullptr, &resume));
    return;
  }
  {
    std::lock_guard lock(pending_mu_);
    pending_.insert(connection_id);
  }
  const auto dir = keys::dir(session_id), ws = keys::ws(session_id), peers = keys::peers(session_id),
             hb = keys::heartbeat(session_id, identity.user_id), rk = keys::resume(session_id),
             att = keys::attendance(session_id);
  const auto max = std::to_string(options_.max_participants), ttl = std::to_string(options_.ws_ttl.count()),
             hb_ttl = std::to_string(options_.heartbeat_ttl.count()), ts = now_ms();
  // The arguments are copied before the callback (which takes them over) is built.
  const std::vector<std::string> args{identity.user_id, connection_id,    identity.display_name, max, ttl, ts,
                                      hb_ttl,           resume.presented, resume.fresh};
  const std::vector<std::string_view> key_views{dir, ws, peers, hb, rk, att},
      arg_views(args.begin(), args.end());
  client_->eval(
      scripts::join(), key_views, arg_views,
      [this, session_id = std::move(session_id), identity = std::move(identity), connection_id,
       endpoint = std::move(endpoint), resume = std::move(resume),
       done = std::move(done)](std::error_code ec, const Reply& reply) mutable {
        auto finish = [&](HubJoin j) {
          {
            std::lock_guard lock(pending_mu_);
            pending_.erase(connection_id);
          }
          done(std::move(j));
        };
        if (ec == redis::Errc::server_error || (!ec && !reply.is_array())) {
          // Redis refused (e.g. out of memory) or answered nonsense: nothing says the session is
          // not there, so the client is told to come back (1013), not that it is gone (4404).
          log::error("join script failed", {{"node", options_.node_id},
                                            {"session", utf8::printable(session_id)},
                                            {"error", utf8::printable(reply.str)}});
          finish({ErrorCode::store_unavailable, nullptr, nullptr});
          return;
        }
        if (ec) {  // Redis went away meanwhile: the script may have run or not
          doubtful_.insert(connection_id);
          finish(hub_->join(session_id, identity, connection_id, endpoint, nullptr, &resume));
          return;
        }
        const auto& el = reply.elements;
        if (el.empty() || el[0].str != "ok" || el.size() < 10) {
          const auto code = el.empty() ? std::nullopt : refusal(el[0].str);
          finish({code.value_or(ErrorCode::session_not_found), nullptr, nullptr});
          return;
        }
        const auto previous = el[1].str;
        // For an undo: the user's attendance before this join ('-': there was none).
        const auto attendance_before = el[8].str.empty() ? std::string("-") : el[8].str;
        const auto replaced_peer = el[9].str;
        const auto seq = static_cast<std::uint64_t>(el[2].integer);
        auto& seen = seen_seq_[session_id];
        seen = std::max(seen, seq);
        std::string why;
        auto record = record_from_fields(session_id, fields_of(el[5]), clock_.wall_now(), nullptr, &why);
        if (!record) skipped(keys::dir(session_id), why);
        if (record) {
          hub_->apply_record(session_id, *record);
        }
        domain::ClusterJoin cj;
        cj.seq = seq;
        cj.remove_missing = settled();
        cj.resumed = el[6].integer == 1;
        cj.resume_id = utf8::valid(el[7].str) ? el[7].str : std::string();
        std::vector<std::string> bad;
        for (auto& e : roster_from(fields_of(el[3]), fields_of(el[4]), &bad)) {
          if (e.identity.user_id != identity.user_id && !mine(e.connection_id))
            cj.roster.push_back(std::move(e));
        }
        for (const auto& b : bad)
          skipped(keys::ws(session_id), b);
        // The domain's events of this join are held: the script's verdict on a replaced
        // connection goes first, and nothing is emitted for a join taken back.
        // Only around the hub's join: whatever runs after it on this thread (the caller's `done`)
        // publishes as usual.
        std::vector<domain::PlatformEvent> held;
        HubJoin joined;
        {
          EventGate::Hold hold;
          joined = hub_->join(session_id, identity, connection_id, endpoint, &cj);
          held = hold.take();
        }
        if (joined.error) {
          // Refused by this node's copy (e.g. it has just ended): take the entry back, and the
          // attendance as it was (no connection was admitted).
          run_leave(session_id, identity.user_id, connection_id, false, ignore_reply, attendance_before);
          finish(std::move(joined));
          return;
        }
        if (!previous.empty() && !cj.resumed) {
          // This script replaced the entry: this node says so, wherever the old connection was.
          const auto bar = replaced_peer.find('|');
          const auto old_name = bar == std::string::npos ? std::string() : replaced_peer.substr(bar + 1);
          emit_participant(domain::EventType::participant_left, session_id, identity.user_id,
                           utf8::valid(old_name) ? old_name : std::string(), domain::LeftReason::replaced);
        }
        for (auto& e : held) {
          if (e.type == domain::EventType::participant_left &&
              e.left_reason == domain::LeftReason::replaced && e.user_id == identity.user_id)
            continue;  // decided by the script (above)
          gate_.emit(std::move(e));
        }
        if (!previous.empty()) {
          log::debug("replacing a connection",
                     {{"node", options_.node_id}, {"connection", utf8::printable(previous)}});
        }
        client_->call(
            ignore_reply, "PUBLISH", keys::session_channel(session_id),
            encode_joined({{identity.user_id, joined.participant->display_name()}, connection_id, seq},
                          cj.resumed));
        finish(std::move(joined));
      });
}

void Node::relay(std::string_view session_id, std::string_view connection_id, std::string_view from_user_id,
                 domain::Payload message) {
  const auto channel = keys::node_channel(keys::node_of(connection_id));
  const auto frame = encode_relay(session_id, connection_id, from_user_id, *message);
  client_->command({std::string_view("PUBLISH"), std::string_view(channel), std::string_view(frame)},
                   ignore_reply);
}

void Node::on_node_message(const std::string& message) {
  const auto r = decode_relay(message);
  if (!r) {
    log::warn("malformed message on the node channel (or not UTF-8)", {{"node", options_.node_id}});
    return;
  }
  if (!hub_->deliver(r->session_id, r->connection_id, domain::make_payload(std::string(r->payload)),
                     r->from_user_id)) {
    log::debug("relayed message for a connection that is gone",
               {{"node", options_.node_id}, {"connection", r->connection_id}});
  }
}

// ---------------------------------------------------------------------------------------------
// Events from the other nodes

void Node::on_session_message(const std::string& channel, const std::string& message) {
  if (!channel.starts_with(keys::kSessionChannelPrefix)) return;
  const std::string session_id = channel.substr(keys::kSessionChannelPrefix.size());
  if (!utf8::valid(session_id)) {
    skipped(channel, "channel name not valid UTF-8");
    return;
  }
  const auto ev = decode_event(message);
  if (!ev) {
    skipped(channel, "malformed session event");
    return;
  }
  switch (ev->kind) {
    case Event::Kind::joined:
      if (mine(ev->member.connection_id)) return;
      if (!hub_->has_session(session_id)) {
        load_session(session_id);
        return;
      }
      hub_->apply_remote_joined(session_id, ev->member, ev->resumed);
      return;
    case Event::Kind::reconnecting:
      if (mine(ev->member.connection_id)) return;
      hub_->apply_remote_reconnecting(session_id, ev->member.connection_id);
      return;
    case Event::Kind::left:
      if (mine(ev->member.connection_id)) return;
      hub_->apply_remote_left(session_id, ev->member.connection_id);
      return;
    case Event::Kind::changed: load_session(session_id); return;
    case Event::Kind::deleted: hub_->apply_deleted(session_id); return;
  }
}

void Node::refresh(std::string session_id, std::function<void()> done) {
  if (!client_->connected()) {
    done();
    return;
  }
  load_session(session_id, std::move(done), true);
}

void Node::flush(std::uint64_t mark, std::function<void(bool)> done) {
  // Commands on the link run in order: once this PING is answered, every write before it is done
  // and its callback has run (same strand, in order).
  client_->call([this, mark, done = std::move(done)](
                    std::error_code ec, const Reply&) { done(!ec && last_failed_write_ <= mark); },
                "PING");
}

void Node::load_session(const std::string& session_id, Done then, bool absent_means_deleted) {
  client_->eval(
      scripts::snapshot(),
      {keys::dir(session_id), keys::ws(session_id), keys::peers(session_id), keys::attendance(session_id)},
      {},
      [this, session_id, absent_means_deleted, then = std::move(then)](std::error_code ec,
                                                                       const Reply& reply) {
        if (!ec && reply.is_array() && reply.elements.size() == 4) {
          std::uint64_t join_seq = 0;
          const auto dir = fields_of(reply.elements[0]);
          // Gone from the store (deleted there directly): drop this node's copy too, unless the
          // store may have just lost its data and not been written again yet.
          if (dir.empty() && absent_means_deleted && settled() && hub_->has_session(session_id)) {
            hub_->apply_deleted(session_id);
          }
          std::string why;
          auto record = record_from_fields(session_id, dir, clock_.wall_now(), &join_seq, &why);
          if (!record && !dir.empty()) skipped(keys::dir(session_id), why);
          if (record) {
            // With several nodes the attendance lives in Redis (the snapshot read it atomically).
            std::vector<std::string> bad_attendance;
            record->attendance = attendance_from(fields_of(reply.elements[3]), &bad_attendance);
            for (const auto& b : bad_attendance)
              skipped(keys::attendance(session_id), b);
            hub_->apply_record(session_id, *record);
            std::set<std::string> local;
            for (const auto& m : hub_->local_members(session_id))
              local.insert(m.connection_id);
            std::vector<domain::RosterEntry> roster;
            std::vector<std::string> bad;
            auto entries = roster_from(fields_of(reply.elements[1]), fields_of(reply.elements[2]), &bad);
            for (const auto& b : bad)
              skipped(keys::ws(session_id), b);
            for (auto& e : entries) {
              if (!mine(e.connection_id)) {
                roster.push_back(std::move(e));
                continue;
              }
              bool pending = false;
              {
                std::lock_guard lock(pending_mu_);
                pending = pending_.count(e.connection_id) > 0;
              }
              if (!pending && local.count(e.connection_id) == 0) remove_stale(session_id, e);
            }
            if (record->status != domain::Status::ended)
              hub_->reconcile(session_id, roster, join_seq, settled());
          }
        } else if (ec) {
          log::debug("cannot load a session",
                     {{"node", options_.node_id}, {"session", session_id}, {"error", ec.message()}});
        }
        if (then) then();
      });
}

// A connection of this node that Redis still lists but this node no longer has (it left while
// Redis was unreachable, or a previous run of this node id died).
void Node::remove_stale(const std::string& session_id, const domain::RosterEntry& entry) {
  log::info("removing a stale connection of this node",
            {{"node", options_.node_id}, {"session", session_id}, {"connection", entry.connection_id}});
  run_leave(session_id, entry.identity.user_id, entry.connection_id, false, ignore_reply);
}

void Node::full_sync(Done then) {
  auto count = std::make_shared<Countdown>();
  count->then = std::move(then);
  auto scan = std::make_shared<std::function<void(std::string)>>();
  *scan = [this, count, scan](const std::string& cursor) {
    client_->call(
        [this, count, scan](std::error_code ec, const Reply& reply) {
          if (ec || !reply.is_array() || reply.elements.size() != 2) {
            if (ec)
              log::debug("session scan interrupted", {{"node", options_.node_id}, {"error", ec.message()}});
            count->done();
            *scan = nullptr;  // breaks the self-reference
            return;
          }
          for (const auto& key : reply.elements[1].elements) {
            if (!key.str.starts_with(keys::kDirPrefix)) continue;
            ++count->left;
            load_session(key.str.substr(keys::kDirPrefix.size()), [count] { count->done(); });
          }
          const auto next = reply.elements[0].str;
          if (next == "0") {
            count->done();
            *scan = nullptr;
          } else {
            (*scan)(next);
          }
        },
        "SCAN", cursor, "MATCH", std::string(keys::kDirPrefix) + "*", "COUNT", 500);
  };
  (*scan)("0");
}

void Node::restore_all(Done then) {
  auto count = std::make_shared<Countdown>();
  count->then = std::move(then);
  client_->call(ignore_reply, "SET", keys::alive(options_.node_id), format_iso8601(clock_.wall_now()), "PX",
                options_.node_ttl.count());
  alive_written_ = true;
  std::map<std::string, std::vector<domain::LocalMember>> locals;
  for (auto& m : hub_->local_members())
    locals[m.session_id].push_back(std::move(m));
  std::set<std::string> live;
  for (const auto& [session, members] : locals) {
    for (const auto& m : members)
      live.insert(m.connection_id);
  }
  // Joins whose reply was lost and that are gone since: their entries, if written, are stale.
  auto gone = std::make_shared<std::vector<std::string>>();
  for (const auto& c : doubtful_) {
    if (live.count(c) == 0) gone->push_back(c);
  }
  const auto ts = now_ms();
  const auto prefix = options_.node_id + ":";
  std::set<std::string> sessions;
  for (const auto& snap : hub_->snapshots()) {
    sessions.insert(snap.session_id);
    if (snap.status == domain::Status::ended) continue;
    const auto fields = fields_of_record(snap);
    const auto seen = seen_seq_.find(snap.session_id);
    std::vector<std::string> args{prefix,
                                  std::to_string(options_.ws_ttl.count()),
                                  keys::heartbeat_prefix(snap.session_id),
                                  ts,
                                  std::to_string(options_.heartbeat_ttl.count()),
                                  "0",
                                  std::to_string(seen == seen_seq_.end() ? 0 : seen->second),
                                  std::to_string(fields.size() * 2),
                                  std::to_string(gone->size())};
    for (const auto& [k, v] : fields) {
      args.push_back(k);
      args.push_back(v);
    }
    args.insert(args.end(), gone->begin(), gone->end());
    std::uint64_t max_seq = 0;
    for (const auto& m : locals[snap.session_id]) {
      args.push_back(m.identity.user_id);
      args.push_back(m.connection_id);
      args.push_back(peer_value(m.seq, m.identity.display_name));
      args.push_back(m.resume_id);
      // Attendance: written only where Redis has none (it lost its data): this node's view.
      const auto rec = std::find_if(snap.attendance.begin(), snap.attendance.end(),
                                    [&](const auto& r) { return r.user_id == m.identity.user_id; });
      args.push_back(rec == snap.attendance.end() ? std::string() : attendance_json(*rec));
      // Still reconnecting here: the store keeps it lost (its window may yet close at the loss).
      args.push_back(!m.reconnecting ? std::string()
                     : m.lost_at     ? std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      m.lost_at->time_since_epoch())
                                                          .count())
                                     : ts);
      max_seq = std::max(max_seq, m.seq);
    }
    args[5] = std::to_string(max_seq);
    const std::vector<std::string> k{keys::dir(snap.session_id), keys::ws(snap.session_id),
                                     keys::peers(snap.session_id), keys::resume(snap.session_id),
                                     keys::attendance(snap.session_id)};
    const std::vector<std::string_view> kv(k.begin(), k.end()), av(args.begin(), args.end());
    ++count->left;
    client_->eval(scripts::restore(), kv, av,
                  [this, count, gone, session = snap.session_id, members = locals[snap.session_id]](
                      std::error_code ec, const Reply& reply) {
                    if (!ec) {
                      if (const auto r = decode_restore(reply)) emit_restored(session, *r, members);
                    }
                    if (ec) {
                      log::warn("cannot restore a session", {{"node", options_.node_id},
                                                             {"error", ec.message()},
                                                             {"reply", utf8::printable(reply.str)}});
                    } else {
                      for (const auto& c : *gone)
                        doubtful_.erase(c);
                    }
                    count->done();
                  });
  }
  std::erase_if(seen_seq_, [&](const auto& kv) { return sessions.count(kv.first) == 0; });
  count->done();
}

// ---------------------------------------------------------------------------------------------
// Housekeeping

void Node::schedule() {
  if (stopping_) return;
  timer_.expires_after(std::max(options_.node_ttl / 3, std::chrono::milliseconds(50)));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    housekeeping();
    schedule();
  });
}

void Node::housekeeping() {
  if (stopping_ || !client_->connected()) return;
  client_->call(
      [this](std::error_code ec, const Reply& reply) {
        if (ec || stopping_) return;
        if (reply.is_nil() && alive_written_ && !link_dropped_) on_presumed_dead();
        alive_written_ = true;
        link_dropped_ = false;
      },
      "SET", keys::alive(options_.node_id), format_iso8601(clock_.wall_now()), "PX",
      options_.node_ttl.count(), "GET");
  if (!synced_) return;
  check_nodes();
  const auto now = clock_.now();
  if (now >= next_sync_) {
    next_sync_ = now + options_.sync_interval;
    refresh_ttls();
    full_sync();
  }
}

void Node::refresh_ttls() {
  std::set<std::string> sessions;
  for (const auto& m : hub_->local_members())
    sessions.insert(m.session_id);
  const auto ttl = options_.ws_ttl.count();
  for (const auto& s : sessions) {
    client_->call(ignore_reply, "EXPIRE", keys::ws(s), ttl);
    client_->call(ignore_reply, "EXPIRE", keys::peers(s), ttl);
  }
}

bool Node::settled() const {
  return clock_.now().time_since_epoch().count() >= checks_from_.load();
}

void Node::check_nodes() {
  if (!settled()) return;
  std::map<std::string, std::vector<std::pair<std::string, domain::RosterEntry>>> by_node;
  for (auto& [session, member] : hub_->remote_members()) {
    const auto node = std::string(keys::node_of(member.connection_id));
    if (node.empty() || node == options_.node_id) continue;
    by_node[node].emplace_back(session, std::move(member));
  }
  for (auto& [node, members] : by_node) {
    client_->call(
        [this, node = node, members = std::move(members)](std::error_code ec, const Reply& reply) {
          // Settled again: this node's own alive key may have just been found missing (Redis lost
          // its data), in which case every other key is missing too and proves nothing.
          if (ec || !reply.is_integer() || reply.integer != 0 || !settled()) return;
          on_node_gone(node, members);
        },
        "EXISTS", keys::alive(node));
  }
}

// The node's alive key is gone while Redis stayed up: it was lost (FLUSHALL, a Redis restart
// without persistence) or this node stalled longer than --node-ttl. The other nodes saw its
// participants as lost (reconnecting) at worst; its connections stay open, its state is written
// again and announced as resumed, so nobody re-meshes. With no resume window the old rule holds:
// the others have removed them, so the connections are closed (1001) and the clients rejoin.
void Node::on_presumed_dead() {
  checks_from_ = (clock_.now() + options_.node_ttl).time_since_epoch().count();
  if (options_.resume_window.count() <= 0) {
    log::warn("this node was presumed dead (its alive key is gone): closing its connections",
              {{"node", options_.node_id}});
    hub_->shutdown();
    restore_all();
    return;
  }
  log::warn("this node's alive key was gone (Redis lost it, or this node stalled): writing its state again",
            {{"node", options_.node_id}});
  restore_all([this] {
    for (const auto& m : hub_->local_members()) {
      client_->call(ignore_reply, "PUBLISH", keys::session_channel(m.session_id),
                    encode_joined({m.identity, m.connection_id, m.seq}, true));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// What this node's sessions do, written to Redis

void Node::send_remote(std::string_view session_id, std::string_view connection_id,
                       const domain::Payload& message) {
  relay(session_id, connection_id, {}, message);
}

void Node::heartbeat(std::string_view session_id, std::string_view user_id, domain::WallTime at) {
  const auto ms =
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count());
  client_->call(ignore_reply, "SET", keys::heartbeat(session_id, user_id), ms, "EX",
                options_.heartbeat_ttl.count());
}

void Node::directory_changed(std::string_view session_id, const domain::SessionSpec& spec,
                             domain::WallTime created_at) {
  client_->eval(
      scripts::put(), {keys::dir(session_id)},
      {spec.host_user_id, participants_json(spec.participants), std::to_string(spec.duration.count()),
       format_iso8601(created_at), keys::session_channel(session_id), encode_changed(),
       spec.ice_transport_policy ? std::string(domain::to_string(*spec.ice_transport_policy))
                                 : std::string()},
      tracked_write("session directory entry"));
}

void Node::deleted(std::string_view session_id) {
  client_->eval(scripts::remove(),
                {keys::dir(session_id), keys::ws(session_id), keys::peers(session_id),
                 keys::resume(session_id), keys::attendance(session_id)},
                {keys::heartbeat_prefix(session_id), keys::session_channel(session_id), encode_deleted()},
                tracked_write("delete"));
}

}  // namespace sig::cluster
