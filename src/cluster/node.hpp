#pragma once
// One node of a several-node deployment: keeps the hub in line with Redis and with the other
// nodes, and writes this node's state there.
//
// - Admission (ClusterPort::join): the join script checks status, membership and the cap
//   atomically across nodes, then the local hub joins the connection with the script's roster.
// - Events (PresenceSink): leaves, heartbeats, starts, ends and directory changes made here are
//   written to Redis by scripts that publish them on signaling:session:{id}.
// - Every node subscribes to signaling:session:* (so its hub mirrors every session, and the
//   synchronous admin API can answer for any session) and to signaling:node:{me} (relayed
//   messages for its connections).
// - Housekeeping: the alive key, TTL refreshes, dead-node detection, a periodic full sync, and
//   the re-write of this node's state after Redis comes back.
// All Redis callbacks run on the node's strand; the public functions may be called from any
// thread and never wait.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "cluster/events.hpp"
#include "domain/cluster_port.hpp"
#include "domain/events.hpp"
#include "domain/hub.hpp"
#include "domain/presence.hpp"
#include "redis/client.hpp"

namespace sig::cluster {

struct RestoreReply;  // replies.hpp

struct NodeOptions {
  std::string redis_url;
  redis::TlsOptions redis_tls;  // rediss:// only
  std::string node_id;
  std::chrono::milliseconds node_ttl{10'000};       // the alive key's TTL; refreshed every third
  std::chrono::milliseconds sync_interval{10'000};  // full re-read of the sessions in Redis
  std::chrono::seconds ws_ttl{1800};                // session:ws / session:peers
  std::chrono::seconds heartbeat_ttl{45};           // session:heartbeat:*
  std::chrono::milliseconds ended_retention{3'600'000};
  std::size_t max_participants = 6;
  std::chrono::milliseconds resume_window{10'000};  // 0: a lost participant leaves at once
};

class Node final : public domain::PresenceSink, public domain::ClusterPort {
 public:
  // `events`: the platform's sink (the webhook publisher), or null. The hub gets events() instead.
  Node(const boost::asio::any_io_executor& ex, const domain::Clock& clock, NodeOptions options,
       domain::EventSink* events = nullptr);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The hub this node serves (it is constructed with this node as its PresenceSink).
  void attach(domain::Hub& hub) { hub_ = &hub; }
  // Called with true once Redis is reachable and the state loaded, false while it is not.
  void on_ready_changed(std::function<void(bool)> cb) { on_ready_ = std::move(cb); }
  bool ready() const noexcept { return ready_flag_.load(std::memory_order_relaxed); }
  // The sink to give the hub: the domain's events go through it (events.hpp says what it keeps
  // back so that each event is emitted by one node).
  domain::EventSink* events() noexcept { return &gate_; }

  // Connects (commands and pub/sub), loads every session, then calls done({}); or done(error)
  // when the first connection attempt fails (the caller exits: start-up error).
  void start(std::function<void(std::error_code)> done);
  // The server is stopping: no more housekeeping, the alive key is deleted (the connections stay
  // open so the departures already sent are written).
  void stop();
  // Closes the Redis connections (after stop(), while the executor still runs).
  void close();

  const std::string& node_id() const noexcept { return options_.node_id; }

  // domain::ClusterPort
  void join(std::string session_id, domain::Identity identity, std::string connection_id,
            std::weak_ptr<domain::Endpoint> endpoint, domain::ResumeRequest resume, JoinDone done) override;
  void relay(std::string_view session_id, std::string_view connection_id, std::string_view from_user_id,
             domain::Payload message) override;
  void refresh(std::string session_id, std::function<void()> done) override;
  std::uint64_t write_mark() const override { return writes_sent_.load(); }
  void flush(std::uint64_t mark, std::function<void(bool applied)> done) override;

  // domain::PresenceSink
  void connected(std::string_view, std::string_view, std::string_view) override {}
  void disconnected(std::string_view session_id, std::string_view user_id,
                    std::string_view connection_id) override;
  void heartbeat(std::string_view session_id, std::string_view user_id, domain::WallTime at) override;
  void session_closed(std::string_view) override {}
  void started(std::string_view session_id, domain::WallTime at) override;
  void ended(std::string_view session_id, domain::EndReason reason, domain::WallTime at) override;
  void directory_changed(std::string_view session_id, const domain::SessionSpec& spec,
                         domain::WallTime created_at) override;
  void deleted(std::string_view session_id) override;
  void lost(std::string_view session_id, std::string_view user_id, std::string_view connection_id) override;
  void expired(std::string_view session_id, std::string_view user_id,
               std::string_view connection_id) override;
  void send_remote(std::string_view session_id, std::string_view connection_id,
                   const domain::Payload& message) override;

 private:
  using Done = std::function<void()>;
  void on_started_link(std::error_code ec);
  void on_node_message(const std::string& message);
  void on_session_message(const std::string& channel, const std::string& message);
  void load_session(const std::string& session_id, Done then = {}, bool absent_means_deleted = false);
  void full_sync(Done then = {});
  void restore_all(Done then = {});
  void housekeeping();
  void schedule();
  void check_nodes();
  void refresh_ttls();
  void remove_stale(const std::string& session_id, const domain::RosterEntry& entry);
  // The leave script: removes the entry while it names this connection; publishes the departure
  // when it did (or always). `undo`: the attendance to put back ('-': none) instead of closing it.
  void run_leave(std::string_view session_id, std::string_view user_id, std::string_view connection_id,
                 bool always_publish, redis::ReplyCallback cb, std::string_view undo = {});
  // Another node's participant goes: participant.left (disconnected) if this node's script removed it.
  void leave_remote(std::string_view session_id, std::string_view user_id, std::string_view connection_id,
                    std::string display_name);
  void emit_participant(domain::EventType type, std::string_view session_id, std::string_view user_id,
                        std::string_view display_name, std::optional<domain::LeftReason> reason);
  void emit_restored(const std::string& session_id, const RestoreReply& reply,
                     const std::vector<domain::LocalMember>& members);
  void on_presumed_dead();
  void on_node_gone(const std::string& node,
                    const std::vector<std::pair<std::string, domain::RosterEntry>>& members);
  void set_ready(bool ready);
  void update_ready();
  bool mine(std::string_view connection_id) const;
  // False for one --node-ttl after a reconnection: the other nodes may not have written their
  // state again yet, so nothing missing from Redis is taken as gone.
  bool settled() const;
  std::string now_ms() const;
  // A write whose failure flush() reports: the callback to give the command.
  redis::ReplyCallback tracked_write(std::string_view what);
  // A value read from Redis was skipped (not UTF-8, out of range, malformed): logged once per key
  // and reason, since a full sync reads it again every --cluster-sync.
  void skipped(std::string_view key, std::string_view reason);

  NodeOptions options_;
  const domain::Clock& clock_;
  EventGate gate_;
  domain::Hub* hub_ = nullptr;
  redis::Strand strand_;
  std::shared_ptr<redis::RedisClient> client_;
  std::shared_ptr<redis::RedisSubscriber> sub_;
  boost::asio::steady_timer timer_;
  std::function<void(bool)> on_ready_;
  std::function<void(std::error_code)> on_start_;

  // On the strand:
  int links_up_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool synced_ = false;
  bool ready_ = false;
  std::atomic<bool> ready_flag_{false};  // ready_, for other threads
  bool alive_written_ = false;
  bool link_dropped_ = false;  // the command link dropped since the last alive refresh
  // No verdict on what is missing from Redis (dead nodes, departures) before this.
  std::atomic<domain::SteadyTime::rep> checks_from_{domain::SteadyTime::min().time_since_epoch().count()};
  domain::SteadyTime next_sync_{};
  // Per session, the highest join seq this node has read in its join replies; and the connections
  // whose join reply was lost (the script may or may not have run). restore() uses both to tell
  // this node's stale entries from joins that reached Redis before it.
  std::unordered_map<std::string, std::uint64_t> seen_seq_;
  std::unordered_set<std::string> doubtful_;

  // Writes sent (any thread) and the highest of them that failed (on the strand).
  std::atomic<std::uint64_t> writes_sent_{0};
  std::uint64_t last_failed_write_ = 0;
  std::unordered_set<std::string> warned_;  // key + reason already logged by skipped()

  std::mutex pending_mu_;
  std::unordered_set<std::string> pending_;  // connections between their join script and the hub
};

}  // namespace sig::cluster
