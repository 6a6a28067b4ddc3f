#pragma once
// The client side of a load run inside one process: worker threads (one io_context each), the
// client connections, the open-loop pacers and the statistics they keep.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common.hpp"
#include "messages.hpp"

namespace load {

enum class Mode { relay, join, hold };

struct Options {
  Protocol protocol = Protocol::signaling;
  Mode mode = Mode::relay;
  std::vector<Endpoint> targets;
  std::string admin_key = "bench-admin-key";
  std::string jwt_secret = "bench-jwt-secret";
  bool admin_all_targets = true;
  std::size_t session_size = 4;
  std::size_t clients = 0;    // relay / hold: participants (0: mode default)
  std::vector<double> rates;  // relay: offered total messages/s, one step each
  double warmup_s = 1.0;
  double duration_s = 3.0;
  double gap_s = 1.0;         // after each step: no sends, in-flight messages drain
  std::size_t sdp_every = 5;  // one message in sdp_every is an offer or an answer (alternating)
  std::vector<std::size_t> sdp_sizes{2048, 3072, 4096, 5120, 6144};
  std::size_t ice_size = 300;
  std::size_t queue_limit = 1000;  // per-client send backlog before messages are dropped
  std::size_t threads = 1;
  std::size_t processes = 0;     // 0: as many as the descriptor limit requires
  std::size_t source_addrs = 0;  // 0: no bind; N: bind to 127.0.0.2 .. 127.0.0.(N+1)
  double connect_rate = 3000;    // new connections per second while setting up
  std::size_t connect_inflight = 256;
  double connect_timeout_s = 30;
  double join_rate = 500;
  double join_hold_ms = 1000;
  std::size_t join_sessions = 0;  // 0: enough for join_rate * hold
  double hb_interval_ms = 5000;
  int server_pid = 0;
  std::vector<int> extra_pids;  // summed with server_pid for RSS and CPU
  std::string prefix;           // run tag: session and participant ids start with it
  bool cleanup = true;
  std::string json_out;
  std::string label;
  std::string peerjs_key = "peerjs";
  double sustain_ratio = 0.99;
  double sustain_p99_ms = 0;  // 0: no p99 condition (a stall of the shared machine is not saturation)
  double sustain_p50_ms = 5;
  bool stop_when_saturated = true;
  bool verbose = false;
};

// One participant the run may connect: a relay/hold client, or a join-mode slot.
struct Slot {
  std::size_t gid = 0;  // global index: session = gid / session_size, member = gid % session_size
  std::string user_id;
  std::string session_id;
  std::string token;
  std::size_t target = 0;
};

struct StepWindow {
  double rate = 0;
  std::int64_t start = 0, measure_start = 0, measure_end = 0, end = 0;
};

struct Schedule {
  std::vector<StepWindow> steps;
  std::int64_t end_all = 0;
  // The step whose [start, end) holds t; -1 outside.
  int step_of(std::int64_t t) const {
    for (std::size_t i = 0; i < steps.size(); ++i)
      if (t >= steps[i].start && t < steps[i].end) return static_cast<int>(i);
    return -1;
  }
};
Schedule make_schedule(const Options& o, std::int64_t t0);

struct StepStats {
  std::uint64_t offered = 0;    // sends scheduled inside the measured window
  std::uint64_t dropped = 0;    // of those, dropped because the client's backlog was full
  std::uint64_t delivered = 0;  // received with a send time inside the window, before the step ended
  std::uint64_t late = 0;       // received after the step's drain gap
  Histogram latency;            // receive time - scheduled send time
  Histogram lag;                // actual dispatch - scheduled send time (the load tool's own delay)
};

struct Stats {
  std::vector<StepStats> steps;
  std::uint64_t connect_ok = 0, connect_fail = 0;
  std::map<std::string, std::uint64_t> fail_codes;  // why connections failed
  std::map<std::string, std::uint64_t> errors;      // error messages received on open connections
  std::map<std::string, std::uint64_t> received;    // messages received, by kind
  std::uint64_t relay_missing_from = 0;             // a relayed signaling message without fromUserId
  std::uint64_t closed_unexpected = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t joins_started = 0, joins_ok = 0, joins_failed = 0, joins_no_slot = 0, leaves = 0;
  Histogram join_latency;
  std::uint64_t hb_sent = 0, hb_acks = 0, hb_acks_in_window = 0;
  Histogram hb_rtt;
  bool fd_limit = false;

  void merge(const Stats& o);
  nlohmann::json to_json() const;
  static Stats from_json(const nlohmann::json& j);
};

class Client;

class Worker {
 public:
  Worker(const Options& o, const Templates& templates, std::size_t index, double rate_share);
  ~Worker();
  void add_slot(const Slot* slot);
  void start_thread();
  // Connects every slot (relay / hold); safe to call from another thread.
  void begin_connect();
  void begin_run(const Schedule& schedule);
  void stop();  // closes every connection, stops the loop and joins the thread

  std::size_t slot_count() const { return slots_.size(); }
  std::atomic<std::size_t> connected{0}, failed{0};
  Stats stats;

  // Used by Client.
  boost::asio::io_context ioc;
  const Options& opt;
  const Templates& templates;
  Schedule schedule;
  bool running = false;
  bool stopping = false;
  void on_client_ready(Client& c);
  void on_client_failed(Client& c, const std::string& code);
  void on_client_closed(Client& c, bool expected);
  std::optional<boost::asio::ip::address_v4> next_source();
  std::string id_of(std::size_t gid) const;

 private:
  void connect_tick();
  void relay_tick();
  void heartbeat_tick();
  void join_tick();
  void start_join(std::size_t slot_index);

  std::size_t index_;
  double rate_share_;
  std::vector<const Slot*> slots_;
  std::vector<std::shared_ptr<Client>> clients_;  // index = slot index (relay / hold)
  std::vector<std::size_t> free_slots_;           // join mode
  std::vector<std::shared_ptr<Client>> join_clients_;
  std::thread thread_;
  boost::asio::steady_timer connect_timer_, pace_timer_, hb_timer_;
  std::size_t next_connect_ = 0;
  std::size_t connect_inflight_ = 0;
  std::int64_t connect_next_due_ = 0;
  std::int64_t pace_next_due_ = 0;
  std::size_t pace_rr_ = 0;
  std::int64_t hb_next_due_ = 0;
  std::size_t hb_rr_ = 0;
  std::size_t source_rr_ = 0;
  int saturated_from_ = -1;  // the first step skipped because an earlier one saturated

 public:
  // Shared by the workers of one process: per step, offered and delivered, to stop early.
  std::vector<std::atomic<std::uint64_t>>* shared_offered = nullptr;
  std::vector<std::atomic<std::uint64_t>>* shared_delivered = nullptr;
};

}  // namespace load
