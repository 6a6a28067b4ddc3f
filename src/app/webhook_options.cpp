#include "app/webhook_options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstddef>
#include <stdexcept>

#include "app/option_helpers.hpp"
#include "app/secret_file.hpp"
#include "http_client/url.hpp"
#include "webhook/signing.hpp"

namespace sig::app {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// An attempt needs time to connect and hear back; ten minutes is beyond any sane receiver.
constexpr DurationRange kTimeout{100ms, 10min};
// Tests retry after tens of milliseconds; a day between two attempts is the most that is useful.
constexpr DurationRange kRetry{10ms, 24h};
// A second (tests) to thirty days.
constexpr DurationRange kMaxAge{1s, std::chrono::hours(24 * 30)};
constexpr std::size_t kMaxQueueLimit = 10'000'000;

}  // namespace

void add_webhook_options(CLI::App& app, WebhookConfig& c) {
  app.add_option("--webhook-url", c.urls,
                 "Signed webhooks (docs/webhooks.md): a receiver of the platform events, http:// or https:// "
                 "(repeatable)")
      ->envname("SIGNALING_WEBHOOK_URL")
      ->delimiter(',');
  app.add_option("--webhook-secret", c.secret,
                 "Webhooks: the signing secret, whsec_ + base64 (Standard Webhooks)")
      ->envname("SIGNALING_WEBHOOK_SECRET");
  app.add_option("--webhook-secret-file", c.secret_file,
                 "File holding the --webhook-secret (mode 0600 or 0400; one trailing newline is ignored)")
      ->envname("SIGNALING_WEBHOOK_SECRET_FILE");
  app.add_option("--webhook-queue-limit", c.queue_limit,
                 "Webhooks: events kept per target; when full, the oldest is dropped (default 10000)")
      ->envname("SIGNALING_WEBHOOK_QUEUE_LIMIT")
      ->check(CLI::Range(std::size_t{1}, kMaxQueueLimit));
  add_duration(app, "--webhook-timeout", c.timeout, "Webhooks: one attempt, connect to response",
               "SIGNALING_WEBHOOK_TIMEOUT", kTimeout);
  add_duration(app, "--webhook-retry-min", c.retry_min, "Webhooks: the shortest wait before a retry",
               "SIGNALING_WEBHOOK_RETRY_MIN", kRetry);
  add_duration(app, "--webhook-retry-max", c.retry_max,
               "Webhooks: the longest wait before a retry; the wait doubles up to it, with jitter",
               "SIGNALING_WEBHOOK_RETRY_MAX", kRetry);
  add_duration(app, "--webhook-max-age", c.max_age,
               "Webhooks: an event not delivered after this long is dropped", "SIGNALING_WEBHOOK_MAX_AGE",
               kMaxAge);
  app.add_option("--webhook-tls-ca", c.tls_ca,
                 "Webhooks over https://: PEM CA file to trust (default: the system trust store)")
      ->envname("SIGNALING_WEBHOOK_TLS_CA");
}

void load_webhook_options(WebhookConfig& c) {
  if (!c.secret_file.empty()) {
    if (!c.secret.empty())
      throw std::runtime_error("give --webhook-secret or --webhook-secret-file, not both");
    c.secret = read_secret_file(c.secret_file, "--webhook-secret-file");
  }
  if (!c.urls.empty() && c.secret.empty()) {
    throw std::runtime_error("--webhook-url needs --webhook-secret or --webhook-secret-file");
  }
  if (!c.secret.empty()) {
    std::string why;
    auto key = webhook::parse_secret(c.secret, &why);
    if (!key) throw std::runtime_error("--webhook-secret: " + why);
    c.key = std::move(*key);
  }
  for (std::size_t i = 0; i < c.urls.size(); ++i) {
    // The same target twice would get every event twice, under two ids.
    if (std::find(c.urls.begin(), c.urls.begin() + static_cast<std::ptrdiff_t>(i), c.urls[i]) !=
        c.urls.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::runtime_error("--webhook-url: the same URL is given twice");
    }
    const auto& url = c.urls[i];
    std::string why;
    if (!http_client::parse_url(url, &why)) {
      // The URL is not echoed: it may hold a token in its query.
      throw std::runtime_error("--webhook-url: " + why);
    }
  }
  if (c.retry_max < c.retry_min)
    throw std::runtime_error("--webhook-retry-max must not be shorter than --webhook-retry-min");
  if (!c.tls_ca.empty() && ::access(c.tls_ca.c_str(), R_OK) != 0) {
    throw std::runtime_error("--webhook-tls-ca: cannot read " + c.tls_ca);
  }
}

webhook::Settings webhook_settings(const WebhookConfig& c) {
  webhook::Settings s;
  s.urls = c.urls;
  s.key = c.key;
  s.queue_limit = c.queue_limit;
  s.timeout = c.timeout;
  s.retry_min = c.retry_min;
  s.retry_max = c.retry_max;
  s.max_age = c.max_age;
  s.tls_ca_file = c.tls_ca;
  return s;
}

std::string webhook_metrics(const webhook::Stats& stats) {
  std::string o;
  auto line = [&o](const char* name, const char* type, const char* help, std::uint64_t value) {
    o.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
    o.append(type).append("\n").append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  line("signaling_webhook_delivered_total", "counter", "Webhook events delivered (2xx)",
       stats.delivered.load());
  line("signaling_webhook_retried_total", "counter",
       "Webhook attempts failed and retried (errors, timeouts, 5xx, 408, 429)", stats.retried.load());
  line("signaling_webhook_failed_total", "counter",
       "Webhook events refused by the receiver (other 4xx): not retried", stats.failed.load());
  line("signaling_webhook_dropped_total", "counter", "Webhook events dropped from a full queue",
       stats.dropped.load());
  line("signaling_webhook_expired_total", "counter", "Webhook events dropped after --webhook-max-age",
       stats.expired.load());
  line("signaling_webhook_queue_depth", "gauge", "Webhook events waiting or being delivered, all targets",
       stats.queued.load());
  return o;
}

}  // namespace sig::app
