#include "webhook/dispatcher.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.hpp"
#include "webhook/backoff.hpp"
#include "webhook/envelope.hpp"
#include "webhook/signing.hpp"

namespace sig::webhook {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

// A receiver answers with a short body; anything larger is not read (the attempt fails).
constexpr std::size_t kMaxResponseBytes = std::size_t{64} * 1024;

std::string without_query(const std::string& url) {
  return url.substr(0, url.find('?'));
}

}  // namespace

Dispatcher::Dispatcher(asio::io_context& io, Settings settings)
    : strand_(asio::make_strand(io)),
      settings_(std::move(settings)),
      client_(io, http_client::ClientOptions{settings_.tls_ca_file}),
      rng_(std::random_device{}()) {
  for (const auto& url : settings_.urls)
    targets_.push_back(make_target(url));
  accepting_ = !targets_.empty();
}

Dispatcher::TargetPtr Dispatcher::make_target(const std::string& url) const {
  auto target = std::make_shared<Target>(url, settings_.queue_limit, settings_.max_in_flight);
  target->log_name = without_query(url);
  return target;
}

void Dispatcher::publish(domain::PlatformEvent event) {
  // Called by the domain, possibly with a session's mutex held: a lock, a move, maybe a post.
  std::lock_guard lock(mutex_);
  if (!accepting_ || stopped_) return;
  if (inbox_.size() >= settings_.queue_limit) {
    inbox_.pop_front();
    ++inbox_dropped_;
    ++stats_.dropped;
  }
  inbox_.push_back(std::move(event));
  if (drain_posted_) return;
  drain_posted_ = true;
  asio::post(strand_, [self = shared_from_this()] { self->drain(); });
}

void Dispatcher::reconfigure(std::vector<std::string> urls, std::string key) {
  {
    std::lock_guard lock(mutex_);
    accepting_ = !urls.empty();
  }
  asio::post(strand_, [self = shared_from_this(), urls = std::move(urls), key = std::move(key)]() mutable {
    self->apply(std::move(urls), std::move(key));
  });
}

void Dispatcher::stop() {
  stopped_ = true;
  std::lock_guard lock(mutex_);
  inbox_.clear();
}

void Dispatcher::apply(std::vector<std::string> urls, std::string key) {
  settings_.key = std::move(key);
  std::vector<TargetPtr> next;
  for (const auto& url : urls) {
    auto same = std::find_if(targets_.begin(), targets_.end(),
                             [&](const TargetPtr& t) { return t && t->url == url; });
    if (same != targets_.end()) {
      next.push_back(std::move(*same));
    } else {
      next.push_back(make_target(url));
      log::info("webhook target added", {{"target", next.back()->log_name}});
    }
  }
  for (const auto& old : targets_) {
    if (!old) continue;
    old->removed = true;
    log::warn("webhook target removed; its queued events are lost",
              {{"target", old->log_name}, {"events", static_cast<std::uint64_t>(old->queue.size())}});
  }
  targets_ = std::move(next);
  settings_.urls = std::move(urls);
  update_depth();
  for (const auto& t : targets_)
    pump(t);
}

void Dispatcher::drain() {
  std::deque<domain::PlatformEvent> events;
  std::uint64_t dropped_in_inbox = 0;
  {
    std::lock_guard lock(mutex_);
    events.swap(inbox_);
    dropped_in_inbox = std::exchange(inbox_dropped_, 0);
    moving_ = events.size();
    drain_posted_ = false;
  }
  if (stopped_) return;  // moving_ stays: a stopped dispatcher has nothing left to wait for
  const auto now = SteadyClock::now();
  auto count = [this](const TargetPtr& t, bool dropped) {
    if (!dropped) return;
    // While a receiver is down every new event drops one: log the first and every 1000th.
    const auto n = ++stats_.dropped;
    if (n == 1 || n % 1000 == 0) {
      log::warn("webhook queue full: the oldest events are dropped",
                {{"target", t->log_name}, {"dropped_total", static_cast<std::uint64_t>(n)}});
    }
  };
  if (dropped_in_inbox > 0) {
    for (const auto& t : targets_)
      t->queue.note_dropped(dropped_in_inbox);
  }
  for (auto& event : events) {
    if (targets_.empty()) break;
    // Every target but the last takes a copy; the last takes the event itself.
    for (std::size_t i = 0; i + 1 < targets_.size(); ++i)
      count(targets_[i], targets_[i]->queue.push(event, now));
    count(targets_.back(), targets_.back()->queue.push(std::move(event), now));
  }
  update_depth();
  {
    std::lock_guard lock(mutex_);
    moving_ = 0;
  }
  for (const auto& t : targets_)
    pump(t);
}

void Dispatcher::pump(const TargetPtr& target) {
  if (stopped_ || target->removed) return;
  while (QueuedEvent* e = target->queue.take())
    attempt(target, e->seq);
}

void Dispatcher::attempt(const TargetPtr& target, std::uint64_t seq) {
  if (stopped_ || target->removed) return;
  QueuedEvent* e = target->queue.find(seq);
  if (e == nullptr) {
    target->queue.finish(seq, TargetQueue::End::rejected);  // dropped while waiting: frees its slot
    return;
  }
  if (SteadyClock::now() - e->enqueued > settings_.max_age) {
    log::warn("webhook event dropped: older than --webhook-max-age",
              {{"target", target->log_name},
               {"id", e->id},
               {"type", domain::to_string(e->event.type)},
               {"attempts", e->attempts}});
    target->queue.finish(seq, TargetQueue::End::expired);
    update_depth();
    ++stats_.expired;  // after the depth (update_depth)
    // The caller (pump, or a retry timer) goes on with the next event.
    asio::post(strand_, [self = shared_from_this(), target] { self->pump(target); });
    return;
  }
  if (!e->started) {
    // Fixed once: every retry sends the same id and the same bytes.
    e->started = true;
    e->id = new_message_id();
    e->dropped_before = target->queue.claim_dropped();
    e->body = envelope_json(e->event, e->dropped_before);
  }
  ++e->attempts;
  e->sending = true;
  const auto timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto signature = sign(settings_.key, e->id, timestamp, e->body);
  if (signature.empty()) {  // OpenSSL failed: an attempt that failed, retried later
    asio::post(strand_, [self = shared_from_this(), target, seq] {
      self->on_result(target, seq, std::make_error_code(std::errc::io_error), 0, {});
    });
    return;
  }
  http_client::Request request;
  request.method = "POST";
  request.url = target->url;
  request.timeout = settings_.timeout;
  request.max_response_bytes = kMaxResponseBytes;
  request.headers = {{"webhook-id", e->id},
                     {"webhook-timestamp", std::to_string(timestamp)},
                     {"webhook-signature", std::move(signature)},
                     {"content-type", "application/json"},
                     {"user-agent", "signaling-server"}};
  request.body = e->body;
  client_.request(std::move(request), [self = shared_from_this(), target, seq](
                                          std::error_code ec, const http_client::Response& r) {
    asio::post(self->strand_,
               [self, target, seq, ec, status = r.status, retry_after = r.header("retry-after")] {
                 self->on_result(target, seq, ec, status, retry_after);
               });
  });
}

void Dispatcher::on_result(const TargetPtr& target, std::uint64_t seq, std::error_code ec, unsigned status,
                           const std::string& retry_after) {
  QueuedEvent* e = target->queue.find(seq);
  if (e == nullptr) {
    // Dropped (queue full) while on the wire: its session may go on now.
    target->queue.finish(seq, TargetQueue::End::rejected);
    pump(target);
    return;
  }
  e->sending = false;
  if (stopped_ || target->removed) return;
  std::atomic<std::uint64_t>* outcome = nullptr;  // counted after the depth (update_depth)
  switch (classify(ec, status)) {
    case Verdict::delivered:
      outcome = &stats_.delivered;
      log::debug(
          "webhook delivered",
          {{"target", target->log_name}, {"id", e->id}, {"status", status}, {"attempts", e->attempts}});
      target->queue.finish(seq, TargetQueue::End::delivered);
      break;
    case Verdict::reject:
      outcome = &stats_.failed;
      log::warn("webhook refused by the receiver; not retried", {{"target", target->log_name},
                                                                 {"id", e->id},
                                                                 {"type", domain::to_string(e->event.type)},
                                                                 {"status", status}});
      target->queue.finish(seq, TargetQueue::End::rejected);
      break;
    case Verdict::retry: {
      ++stats_.retried;
      std::uniform_real_distribution<double> draw(0.0, 1.0);
      auto delay = backoff_delay(e->attempts, settings_.retry_min, settings_.retry_max, draw(rng_));
      if (status == 429 || status == 503) {
        if (auto asked = parse_retry_after(retry_after)) {
          delay = std::max(delay, std::clamp(*asked, settings_.retry_min, settings_.retry_max));
        }
      }
      log::info("webhook attempt failed; retrying",
                {{"target", target->log_name},
                 {"id", e->id},
                 {"status", status},
                 {"error", ec ? ec.message() : std::string()},
                 {"attempts", e->attempts},
                 {"retry_in_ms", static_cast<std::int64_t>(delay.count())}});
      auto timer = std::make_shared<asio::steady_timer>(strand_, delay);
      timer->async_wait([self = shared_from_this(), target, seq, timer](const boost::system::error_code& te) {
        if (!te) self->attempt(target, seq);
      });
      break;
    }
  }
  update_depth();
  if (outcome != nullptr) ++*outcome;
  pump(target);
}

std::size_t Dispatcher::outstanding() const {
  std::lock_guard lock(mutex_);
  return inbox_.size() + moving_ + static_cast<std::size_t>(stats_.queued.load());
}

// The stats are read from other threads (/metrics, tests). An event's outcome (delivered, failed,
// expired) is counted only after the depth no longer holds it, so that whoever sees the count sees
// the depth without the event: counted first, a reader could see it finished and still queued.
void Dispatcher::update_depth() {
  std::uint64_t depth = 0;
  for (const auto& t : targets_)
    depth += t->queue.size();
  stats_.queued = depth;
}

Publisher::Publisher(asio::io_context& io, Settings settings)
    : dispatcher_(std::make_shared<Dispatcher>(io, std::move(settings))) {}

std::size_t Publisher::outstanding() const {
  return dispatcher_->outstanding();
}

Publisher::~Publisher() {
  dispatcher_->stop();
}

void Publisher::publish(domain::PlatformEvent event) {
  try {
    dispatcher_->publish(std::move(event));
  } catch (const std::exception& e) {
    // The domain calls this with its locks held: an allocation failure costs the event, no more.
    log::error("webhook event lost", {{"error", e.what()}});
  }
}

void Publisher::reconfigure(std::vector<std::string> urls, std::string key) {
  dispatcher_->reconfigure(std::move(urls), std::move(key));
}

const Stats& Publisher::stats() const {
  return dispatcher_->stats();
}

}  // namespace sig::webhook
