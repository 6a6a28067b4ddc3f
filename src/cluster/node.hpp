#pragma once
// One node of a several-node deployment: keeps the hub in line with Redis and with the other
// nodes, and writes this node's state there. A façade over its parts (docs/architecture.md,
// "Several nodes"):
// - Admission (admission.hpp): ClusterPort::join through the join script.
// - Writes (writes.hpp): the domain's PresenceSink calls written to Redis by scripts that publish
//   them on the session channel and decide who emits the platform event.
// - Mirror (mirror.hpp): the sessions this node holds, kept in line with the session channels and
//   with on-demand reads.
// - Liveness (liveness.hpp): the alive key, dead-node detection, the node's tick.
// - Restore (restore.hpp): this node's state written again after Redis lost it.
// The node channel (relayed messages for its connections) is handled here.
// All Redis callbacks run on the node's strand; the public functions may be called from any
// thread and never wait.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "cluster/admission.hpp"
#include "cluster/context.hpp"
#include "cluster/liveness.hpp"
#include "cluster/mirror.hpp"
#include "cluster/restore.hpp"
#include "cluster/writes.hpp"
#include "domain/cluster_port.hpp"
#include "domain/events.hpp"
#include "domain/hub.hpp"
#include "domain/presence.hpp"

namespace sig::cluster {

class Node final : public domain::PresenceSink, public domain::ClusterPort {
 public:
  // `events`: the platform's sink (the webhook publisher), or null. The hub gets events() instead.
  Node(const boost::asio::any_io_executor& ex, const domain::Clock& clock, NodeOptions options,
       domain::EventSink* events = nullptr);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The hub this node serves (it is constructed with this node as its PresenceSink).
  void attach(domain::Hub& hub) { ctx_.hub = &hub; }
  // Called with true once Redis is reachable and the state loaded, false while it is not.
  void on_ready_changed(std::function<void(bool)> cb) { on_ready_ = std::move(cb); }
  bool ready() const noexcept { return ready_flag_.load(std::memory_order_relaxed); }
  // The sink to give the hub: the domain's events go through it (events.hpp says what it keeps
  // back so that each event is emitted by one node).
  domain::EventSink* events() noexcept { return &ctx_.gate; }

  // Connects (commands and pub/sub), loads the sessions, then calls done({}); or done(error) when
  // the first connection attempt fails (the caller exits: start-up error).
  void start(std::function<void(std::error_code)> done);
  // The server is stopping: no more housekeeping, the alive key is deleted (the connections stay
  // open so the departures already sent are written).
  void stop();
  // Closes the Redis connections (after stop(), while the executor still runs).
  void close();

  const std::string& node_id() const noexcept { return ctx_.node_id(); }

  // domain::ClusterPort
  void join(std::string session_id, domain::Identity identity, std::string connection_id,
            std::weak_ptr<domain::Endpoint> endpoint, domain::ResumeRequest resume, JoinDone done) override {
    admission_.join(std::move(session_id), std::move(identity), std::move(connection_id), std::move(endpoint),
                    std::move(resume), std::move(done));
  }
  bool accepts_session_id(std::string_view session_id) const override {
    return ctx_.layout.accepts(session_id);
  }
  std::uint64_t relay_epoch() const override { return ctx_.fence->epoch(); }
  void relay(std::string_view session_id, std::string_view connection_id, std::string_view from_user_id,
             domain::Payload message, std::uint64_t epoch) override;
  void refresh(std::string session_id, std::function<void(bool read)> done) override;
  std::uint64_t write_mark() const override { return ctx_.writes_sent(); }
  void flush(std::uint64_t mark, std::function<void(bool applied)> done) override;

  // domain::PresenceSink
  void connected(std::string_view, std::string_view, std::string_view) override {}
  void disconnected(std::string_view session_id, std::string_view user_id,
                    std::string_view connection_id) override;
  void heartbeat(std::string_view session_id, std::string_view user_id, domain::WallTime at) override {
    writes_.heartbeat(session_id, user_id, at);
  }
  void session_closed(std::string_view) override {}
  void started(std::string_view session_id, domain::WallTime at) override { writes_.started(session_id, at); }
  void ended(std::string_view session_id, domain::EndReason reason, domain::WallTime at) override {
    writes_.ended(session_id, reason, at);
  }
  void directory_changed(std::string_view session_id, const domain::SessionSpec& spec,
                         domain::WallTime created_at) override {
    writes_.directory_changed(session_id, spec, created_at);
  }
  void deleted(std::string_view session_id) override { writes_.deleted(session_id); }
  void lost(std::string_view session_id, std::string_view user_id, std::string_view connection_id) override {
    writes_.lost(session_id, user_id, connection_id);
  }
  void expired(std::string_view session_id, std::string_view user_id,
               std::string_view connection_id) override {
    writes_.expired(session_id, user_id, connection_id);
  }
  void send_remote(std::string_view session_id, std::string_view connection_id,
                   const domain::Payload& message) override {
    relay(session_id, connection_id, {}, message, Fence::kAnyEpoch);
  }

 private:
  void on_started_link(std::error_code ec);
  void on_node_message(const std::string& message);
  void set_ready(bool ready);
  void update_ready();

  Context ctx_;
  Writes writes_{ctx_};
  Mirror mirror_{ctx_, writes_};
  Admission admission_{ctx_, writes_, mirror_};
  Restore restore_{ctx_, admission_};
  Liveness liveness_{ctx_, writes_, mirror_, restore_};
  std::function<void(bool)> on_ready_;
  std::function<void(std::error_code)> on_start_;

  // On the strand:
  int links_up_ = 0;
  bool started_ = false;
  bool ready_ = false;
  std::atomic<bool> ready_flag_{false};  // ready_, for other threads
};

}  // namespace sig::cluster
