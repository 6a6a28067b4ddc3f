#pragma once
// The Asio part of the webhook sender (publisher.hpp): per-target queues driven on one strand,
// one HTTP exchange per attempt, retries on timers. Internal to src/webhook.
#include <atomic>
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

  std::mutex mutex_;  // guards the three below: what publish() touches
  std::vector<domain::PlatformEvent> inbox_;
  bool drain_posted_ = false;
  bool accepting_ = false;  // some target configured
};

}  // namespace sig::webhook
