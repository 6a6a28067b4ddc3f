#pragma once
// The options of the signed webhooks (docs/webhooks.md), in their own block of the configuration:
// --webhook-url (repeatable), --webhook-secret / --webhook-secret-file, --webhook-queue-limit,
// --webhook-timeout, --webhook-retry-min, --webhook-retry-max, --webhook-max-age,
// --webhook-tls-ca. Checked at start-up, failing closed: a URL without a secret, a secret that is
// not whsec_ + base64 of at least 16 bytes, a URL the client cannot use, are errors.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "webhook/publisher.hpp"

namespace CLI {
class App;
}

namespace sig::app {

struct WebhookConfig {
  std::vector<std::string> urls;
  std::string secret;       // "whsec_…" (or the content of --webhook-secret-file)
  std::string secret_file;  // read by load_webhook_options
  std::string key;          // the decoded key, set by load_webhook_options
  std::size_t queue_limit = 10'000;
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{300'000};
  std::chrono::milliseconds max_age{86'400'000};
  std::string tls_ca;  // https: PEM CA file; empty: the system trust store
};

void add_webhook_options(CLI::App& app, WebhookConfig& c);
// Reads the secret file, decodes and checks everything; std::runtime_error names the option.
void load_webhook_options(WebhookConfig& c);

webhook::Settings webhook_settings(const WebhookConfig& c);
// The signaling_webhook_* lines of /metrics.
std::string webhook_metrics(const webhook::Stats& stats);

}  // namespace sig::app
