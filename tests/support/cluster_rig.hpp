#pragma once
// Test rig for the parts of a cluster::Node (src/cluster/context.hpp … restore.hpp): the parts
// composed as node.hpp composes them, over a real redis-server, with a real domain::Hub on a
// manual clock. The test drives each part through its own interface; the rig only forwards the
// hub's PresenceSink calls as Node does (a departure is written, then the session released).
// Everything runs on the test's thread: run_until() runs the io_context until a condition holds,
// with a cap (tests assert behaviour, never durations).
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/admission.hpp"
#include "cluster/context.hpp"
#include "cluster/liveness.hpp"
#include "cluster/mirror.hpp"
#include "cluster/node_claim.hpp"
#include "cluster/restore.hpp"
#include "cluster/scripts.hpp"
#include "cluster/writes.hpp"
#include "domain/clock.hpp"
#include "domain/hub.hpp"
#include "redis/client.hpp"
#include "support/recording_endpoint.hpp"

namespace sig::test {

// Runs `io` in short slices until `done()` holds or `cap` has passed; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds cap = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + cap;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A plain connection to the server, for the test's own reads and writes.
class Probe {
 public:
  Probe(boost::asio::io_context& io, const std::string& url) : io_(io) {
    redis::ClientOptions o;
    o.url = url;
    o.name = "probe";
    client_ = redis::RedisClient::create(io.get_executor(), o);
    std::optional<std::error_code> started;
    if (client_->start([&](std::error_code ec) { started = ec; }) ||
        !run_until(io, [&] { return started.has_value(); }) || *started)
      throw std::runtime_error("probe: cannot connect to redis");
  }
  ~Probe() {
    // The connection's last handlers run here, releasing it (LeakSanitizer otherwise sees it).
    client_->close();
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
  }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  redis::Reply cmd(std::initializer_list<std::string_view> args) {
    return cmd(std::vector<std::string>(args.begin(), args.end()));
  }
  redis::Reply cmd(const std::vector<std::string>& args) {
    std::optional<redis::Reply> out;
    ++sent_;
    const std::vector<std::string_view> v(args.begin(), args.end());
    client_->command(std::span<const std::string_view>(v),
                     [&](std::error_code, const redis::Reply& r) { out = r; });
    if (!run_until(io_, [&] { return out.has_value(); })) throw std::runtime_error("probe: no reply");
    return *out;
  }
  // A field of the hash `key` ("" when missing).
  std::string hget(const std::string& key, const std::string& field) {
    const auto r = cmd({"HGET", key, field});
    return r.is_string() ? r.str : std::string();
  }
  // Commands this probe has sent (to tell its own from the node's in the server's counters).
  long long sent() const { return sent_; }
  bool exists(const std::string& key) { return cmd({"EXISTS", key}).integer == 1; }
  // The channels with at least one subscriber (PUBSUB CHANNELS).
  std::vector<std::string> channels() {
    std::vector<std::string> out;
    for (const auto& e : cmd({"PUBSUB", "CHANNELS"}).elements)
      out.push_back(e.str);
    return out;
  }
  // A counter of INFO (e.g. "total_commands_processed"), or of INFO commandstats
  // ("cmdstat_set" -> its calls).
  long long info(const std::string& section, const std::string& name) {
    const auto text = cmd({"INFO", section}).str;
    const auto at = text.find(name + ":");
    if (at == std::string::npos) return 0;
    auto value = text.substr(at + name.size() + 1);
    if (value.starts_with("calls=")) value = value.substr(6);
    return std::stoll(value);
  }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<redis::RedisClient> client_;
  long long sent_ = 0;
};

// One node's parts.
class Rig {
 public:
  Rig(boost::asio::io_context& io, const domain::Clock& clock, cluster::NodeOptions options,
      domain::SessionSettings settings = {})
      : io_(io),
        ctx(io.get_executor(), clock, std::move(options), nullptr),
        hub(clock, std::move(settings), &presence_, &ctx.gate) {
    ctx.hub = &hub;
    for (const auto* script :
         {&cluster::scripts::join(), &cluster::scripts::leave(), &cluster::scripts::lost(),
          &cluster::scripts::start(), &cluster::scripts::end(), &cluster::scripts::put(),
          &cluster::scripts::remove(), &cluster::scripts::snapshot(), &cluster::scripts::restore()})
      ctx.client->preload(*script);
    for (const auto* script : {&cluster::NodeClaim::claim_script(), &cluster::NodeClaim::refresh_script(),
                               &cluster::NodeClaim::release_script()})
      ctx.client->preload(*script);
    int up = 0;
    bool failed = false;
    const auto started = [&](std::error_code ec) { ec ? void(failed = true) : void(++up); };
    if (ctx.client->start(started) || ctx.sub->start(started) ||
        !run_until(io, [&] { return up == 2 || failed; }) || failed)
      throw std::runtime_error("rig: cannot connect to redis");
    // As Node: the node id is claimed before anything is written (it also confirms the fence).
    std::optional<std::error_code> claimed;
    liveness.claim([&](std::error_code ec) { claimed = ec; });
    if (!run_until(io, [&] { return claimed.has_value(); }) || *claimed)
      throw std::runtime_error("rig: cannot claim the node id");
    ctx.synced = true;  // as Node after its first (empty) sync
  }
  ~Rig() {
    ctx.stopping = true;
    ctx.client->close();
    ctx.sub->close();
    run_until(
        io_, [] { return false; }, std::chrono::milliseconds(20));
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  // Admission::join with a recording endpoint; the hub's answer (nullopt: none within the cap).
  std::optional<domain::HubJoin> join(const std::string& session, const std::string& user,
                                      const std::string& connection,
                                      std::shared_ptr<test_support::RecordingEndpoint> ep = nullptr) {
    if (!ep) ep = std::make_shared<test_support::RecordingEndpoint>();
    endpoints_.push_back(ep);
    std::optional<domain::HubJoin> out;
    admission.join(session, {user, ""}, connection, ep, {}, [&](domain::HubJoin j) { out = std::move(j); });
    run_until(io_, [&] { return out.has_value(); });
    return out;
  }
  bool hosts_remote(const std::string& connection) const {
    for (const auto& [session, m] : hub.remote_members()) {
      if (m.connection_id == connection) return true;
    }
    return false;
  }

 private:
  // What Node does with the hub's PresenceSink calls (node.hpp), for the calls these tests make.
  class Presence final : public domain::PresenceSink {
   public:
    explicit Presence(Rig& rig) : rig_(rig) {}
    void connected(std::string_view, std::string_view, std::string_view) override {}
    void disconnected(std::string_view s, std::string_view u, std::string_view c) override {
      rig_.writes.disconnected(s, u, c);
      boost::asio::post(rig_.ctx.strand, [this, session = std::string(s)] { rig_.mirror.release(session); });
    }
    void heartbeat(std::string_view s, std::string_view u, domain::WallTime at) override {
      rig_.writes.heartbeat(s, u, at);
    }
    void session_closed(std::string_view) override {}
    void lost(std::string_view s, std::string_view u, std::string_view c) override {
      rig_.writes.lost(s, u, c);
    }
    void expired(std::string_view s, std::string_view u, std::string_view c) override {
      rig_.writes.expired(s, u, c);
    }

   private:
    Rig& rig_;
  };

  boost::asio::io_context& io_;
  Presence presence_{*this};
  std::vector<std::shared_ptr<test_support::RecordingEndpoint>> endpoints_;

 public:
  cluster::Context ctx;
  cluster::Writes writes{ctx};
  cluster::Mirror mirror{ctx, writes};
  cluster::Admission admission{ctx, writes, mirror};
  cluster::Restore restore{ctx, admission};
  cluster::Liveness liveness{ctx, writes, mirror, restore};
  domain::Hub hub;
};

// Options for a node of id `id` on the one server at `url`.
inline cluster::NodeOptions node_options(const std::string& url, const std::string& id) {
  cluster::NodeOptions o;
  o.redis_url = url;
  o.node_id = id;
  return o;
}

// A session declared in Redis as the admin API writes it: host `a`, participants a, b, c.
inline void declare(Probe& probe, const cluster::Layout& layout, const std::string& session,
                    const std::string& status = "waiting") {
  probe.cmd({"HSET", layout.dir(session), "hostUserId", "a", "participants",
             R"([{"userId":"a","displayName":"Alice"},{"userId":"b"},{"userId":"c"}])", "status", status,
             "createdAt", "2026-11-30T10:00:00.000Z"});
}

}  // namespace sig::test
