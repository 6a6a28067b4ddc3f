#pragma once
// The webhook sender (docs/webhooks.md): a domain::EventSink that signs each platform event and
// POSTs it to every configured target, on the server's io_context, off the connections' path.
// publish() only locks a small mutex and posts; everything else runs on the sender's own strand.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "domain/events.hpp"

namespace boost::asio {
class io_context;
}

namespace sig::webhook {

struct Settings {
  std::vector<std::string> urls;              // http[s]:// targets; none: events are ignored
  std::string key;                            // the raw key (signing.hpp parse_secret of the whsec_ secret)
  std::size_t queue_limit = 10'000;           // events per target, the ones out included
  std::chrono::milliseconds timeout{10'000};  // one attempt, connect to response
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{300'000};
  std::chrono::milliseconds max_age{86'400'000};  // an event older than this is dropped, not sent
  std::string tls_ca_file;                        // https: empty = the system trust store
  std::size_t max_in_flight = 16;                 // per target: events out at once (one per session)
};

// Counters summed over the targets, for /metrics (signaling_webhook_*).
struct Stats {
  std::atomic<std::uint64_t> delivered{0};  // 2xx
  std::atomic<std::uint64_t> retried{0};    // attempts that failed and will be tried again
  std::atomic<std::uint64_t> failed{0};     // refused by the receiver (4xx but 408/429): not retried
  std::atomic<std::uint64_t> dropped{0};    // dropped from a full queue
  std::atomic<std::uint64_t> expired{0};    // dropped: older than max_age
  std::atomic<std::uint64_t> queued{0};     // gauge: events waiting or out, all targets
};

class Dispatcher;

class Publisher final : public domain::EventSink {
 public:
  // Throws std::runtime_error when the CA file cannot be loaded (start-up).
  Publisher(boost::asio::io_context& io, Settings settings);
  ~Publisher() override;
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void publish(domain::PlatformEvent event) override;

  // SIGHUP: new targets and key. A target that stays keeps its queue; a removed one loses its
  // events (logged); the key applies from the next attempt on.
  void reconfigure(std::vector<std::string> urls, std::string key);

  const Stats& stats() const;
  // Events published and not yet delivered, dropped or given up: the drain waits for 0.
  std::size_t outstanding() const;

 private:
  std::shared_ptr<Dispatcher> dispatcher_;
};

}  // namespace sig::webhook
