#pragma once
// --jwt-jwks-url: the identity provider's JWK Set, fetched at start-up and kept fresh
// (docs/security.md, "Key rotation").
//  - Refreshed after Cache-Control max-age, bounded to [--jwt-jwks-refresh-min, 24 h], or every
//    --jwt-jwks-refresh when the response gives none.
//  - Refreshed when a token names an unknown kid (the platform rotated: its new key is
//    published before it signs with it), at most once per --jwt-jwks-unknown-kid-interval so
//    that tokens with made-up kids cannot make the server hammer the provider. The join that saw
//    the unknown kid is refused (invalid_token); the next one with that kid finds the key.
//  - A failed refresh (network, status, a document with no usable key) keeps the last good set,
//    is logged, and is retried after --jwt-jwks-refresh-min.
// The HTTP GET is a function given to it (http_client::Client in the server, a fake in tests).
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "auth/key_set.hpp"
#include "http_client/client.hpp"

namespace sig::app {

// The max-age of a Cache-Control header value (RFC 9111 5.2): max-age=N in seconds; no-store and
// no-cache give 0 (fetch again as soon as allowed); nothing usable gives nullopt. A directive
// repeated with different values, or a malformed one, is ignored (RFC 9111 4.2.1: invalid).
std::optional<std::chrono::seconds> cache_control_max_age(std::string_view header);

// The delay until the next refresh: max-age within [refresh_min, 24 h] when given, else refresh.
std::chrono::milliseconds next_refresh_delay(std::optional<std::chrono::seconds> max_age,
                                             std::chrono::milliseconds refresh,
                                             std::chrono::milliseconds refresh_min);

struct JwksSourceOptions {
  std::string url;
  std::chrono::milliseconds refresh{300'000};
  std::chrono::milliseconds refresh_min{30'000};
  std::chrono::milliseconds unknown_kid_interval{30'000};
  std::chrono::milliseconds timeout{10'000};  // one fetch
};

class JwksSource {
 public:
  using Fetched = std::function<void(std::error_code, http_client::Response)>;
  using Fetch = std::function<void(http_client::Request, Fetched)>;
  using OnKeys = std::function<void(auth::KeySet)>;  // a new good set (on the source's strand)

  JwksSource(boost::asio::io_context& io, JwksSourceOptions options, Fetch fetch, OnKeys on_keys);

  // The first fetch; `first` runs once, on the strand, with "" or why it failed. The refreshes
  // go on either way.
  void start(std::function<void(std::string error)> first);
  // SIGHUP: fetch now. Thread-safe.
  void refresh_now();
  // A token named an unknown kid. Thread-safe and cheap (an atomic check, then at most one post
  // per --jwt-jwks-unknown-kid-interval).
  void unknown_kid();
  // Stops the timer; a fetch under way is ignored when it ends.
  void stop();

  const std::string& url() const noexcept { return options_.url; }

 private:
  void fetch(const char* reason);
  void fetched(std::error_code ec, const http_client::Response& response);
  void schedule(std::chrono::milliseconds delay);

  JwksSourceOptions options_;
  Fetch fetch_;
  OnKeys on_keys_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  std::function<void(std::string)> first_;  // until the first fetch ends
  std::vector<std::string> last_keys_;      // describe() of the last good set, to log changes
  std::atomic<std::int64_t> last_unknown_kid_ms_{INT64_MIN / 2};
  bool in_flight_ = false;
  bool again_ = false;  // a refresh asked for while one was under way
  bool stopped_ = false;
};

// The source of --jwt-jwks-url as the server runs it: its own io_context and thread (a slow
// provider never holds a network thread), its own HTTP client, the keys handed to on_keys.
class JwksService {
 public:
  // Throws std::runtime_error naming --jwt-jwks-ca when the CA file cannot be loaded.
  JwksService(JwksSourceOptions options, const std::string& ca_file, JwksSource::OnKeys on_keys);
  ~JwksService();  // stops the thread
  JwksService(const JwksService&) = delete;
  JwksService& operator=(const JwksService&) = delete;

  // Starts the thread and the first fetch, and waits for it (bounded by the fetch timeout):
  // "" or why it failed.
  std::string start_and_wait();
  void refresh_now() { source_->refresh_now(); }
  void unknown_kid() { source_->unknown_kid(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  JwksSource* source_ = nullptr;
};

}  // namespace sig::app
