#pragma once
// The Asio part of the webhook sender (publisher.hpp): per-target queues driven on one strand,
// one HTTP exchange per attempt, retries on timers. Internal to src/webhook.
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "http_client/client.hpp"
#include "webhook/publisher.hpp"
#include "webhook/queue.hpp"

namespace sig::webhook {

class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  Dispatcher(boost::asio::io_context& io, Settings settings);

  void publish(domain::PlatformEvent event);                         // any thread
  void reconfigure(std::vector<std::string> urls, std::string key);  // any thread
  void stop();                                                       // any thread: nothing more is sent
  const Stats& stats() const { return stats_; }
  // Events published and not yet delivered, dropped or given up (any thread): the drain waits
  // for 0.
  std::size_t outstanding() const;

 private:
  struct Target {
    Target(std::string u, std::size_t limit, std::size_t in_flight)
        : url(std::move(u)), queue(limit, in_flight) {}
    std::string url;
    std::string log_name;  // the URL without its query (which may hold a token)
    TargetQueue queue;
    bool removed = false;
  };
  using TargetPtr = std::shared_ptr<Target>;

  // On the strand.
  void drain();
  void apply(std::vector<std::string> urls, std::string key);
  void pump(const TargetPtr& target);
  void attempt(const TargetPtr& target, std::uint64_t seq);
  void on_result(const TargetPtr& target, std::uint64_t seq, std::error_code ec, unsigned status,
                 const std::string& retry_after);
  void update_depth();
  TargetPtr make_target(const std::string& url) const;

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  Settings settings_;  // urls and key: on the strand
  http_client::Client client_;
  Stats stats_;
  std::mt19937_64 rng_;
  std::vector<TargetPtr> targets_;  // on the strand

  std::atomic<bool> stopped_{false};

  mutable std::mutex mutex_;  // guards the five below: what publish() and outstanding() touch
  // Bounded like a target's queue: a sender that cannot keep up (its strand starved) must not
  // let the inbox grow without limit; the oldest go, counted, announced as droppedBefore.
  std::deque<domain::PlatformEvent> inbox_;
  std::uint64_t inbox_dropped_ = 0;  // since the last drain
  std::size_t moving_ = 0;           // taken from the inbox, not yet counted in stats_.queued
  bool drain_posted_ = false;
  bool accepting_ = false;  // some target configured
};

}  // namespace sig::webhook
