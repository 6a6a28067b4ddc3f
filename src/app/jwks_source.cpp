#include "app/jwks_source.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>
#include <exception>
#include <utility>

#include "auth/jwks.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

namespace sig::app {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kMaxRefresh = std::chrono::hours(24);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<seconds> cache_control_max_age(std::string_view header) {
  std::optional<std::int64_t> max_age;
  bool conflicting = false;
  bool no_cache = false;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view directive = trim_ows(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const auto eq = directive.find('=');
    const std::string_view name = trim_ows(directive.substr(0, eq));
    if (iequals(name, "no-store") || iequals(name, "no-cache")) {
      no_cache = true;  // no-cache may carry field names: still no-cache
      continue;
    }
    if (!iequals(name, "max-age") || eq == std::string_view::npos) continue;
    std::string_view value = trim_ows(directive.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || end != value.data() + value.size() ||
        (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
      conflicting = true;  // malformed: the directive is invalid
      continue;
    }
    if (ec == std::errc::result_out_of_range) n = INT64_MAX;  // "a very large number" (RFC 9111 1.2.2)
    if (n < 0) {
      conflicting = true;
      continue;
    }
    if (max_age && *max_age != n) conflicting = true;
    max_age = n;
  }
  if (no_cache) return seconds(0);
  if (conflicting || !max_age) return std::nullopt;
  return seconds(std::min<std::int64_t>(*max_age, std::chrono::duration_cast<seconds>(kMaxRefresh).count()));
}

milliseconds next_refresh_delay(std::optional<seconds> max_age, milliseconds refresh,
                                milliseconds refresh_min) {
  if (!max_age) return std::clamp(refresh, refresh_min, std::max(refresh_min, kMaxRefresh));
  return std::clamp(milliseconds(*max_age), refresh_min, std::max(refresh_min, kMaxRefresh));
}

JwksSource::JwksSource(boost::asio::io_context& io, JwksSourceOptions options, Fetch fetch, OnKeys on_keys)
    : options_(std::move(options)),
      fetch_(std::move(fetch)),
      on_keys_(std::move(on_keys)),
      strand_(boost::asio::make_strand(io)),
      timer_(strand_) {}

void JwksSource::start(std::function<void(std::string)> first) {
  boost::asio::post(strand_, [this, first = std::move(first)]() mutable {
    first_ = std::move(first);
    fetch("start-up");
  });
}

void JwksSource::refresh_now() {
  boost::asio::post(strand_, [this] { fetch("reload"); });
}

void JwksSource::unknown_kid() {
  const std::int64_t now = steady_ms();
  std::int64_t last = last_unknown_kid_ms_.load(std::memory_order_relaxed);
  if (now - last < options_.unknown_kid_interval.count()) return;
  // One thread wins the slot; the others see the new time and return.
  if (!last_unknown_kid_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  boost::asio::post(strand_, [this] { fetch("unknown kid"); });
}

void JwksSource::stop() {
  boost::asio::post(strand_, [this] {
    stopped_ = true;
    timer_.cancel();
  });
}

void JwksSource::fetch(const char* reason) {  // on the strand
  if (stopped_) return;
  if (in_flight_) {
    again_ = true;
    return;
  }
  in_flight_ = true;
  timer_.cancel();
  log::debug("jwks fetch", {{"url", options_.url}, {"reason", reason}});
  http_client::Request request;
  request.method = "GET";
  request.url = options_.url;
  request.headers.emplace_back("accept", "application/jwk-set+json, application/json");
  request.timeout = options_.timeout;
  request.max_response_bytes = auth::JwksLimits{}.max_bytes;
  fetch_(std::move(request), [this](std::error_code ec, http_client::Response response) {
    boost::asio::post(strand_, [this, ec, response = std::move(response)] { fetched(ec, response); });
  });
}

void JwksSource::fetched(std::error_code ec, const http_client::Response& response) {  // on the strand
  in_flight_ = false;
  if (stopped_) return;
  std::string error;
  milliseconds delay = options_.refresh_min;
  if (ec) {
    error = ec.message();
  } else if (response.status != 200) {
    error = "HTTP status " + std::to_string(response.status);
  } else {
    // Whatever goes wrong here (allocation, the key hand-over), the refreshes go on.
    try {
      auto parsed = auth::parse_jwks(response.body);
      for (const auto& why : parsed.skipped)
        log::warn("jwks key skipped", {{"url", options_.url}, {"reason", why}});
      if (!parsed.ok()) {
        error = parsed.error;
      } else {
        auto described = parsed.keys.describe();
        if (described != last_keys_) {
          std::string kids;
          for (const auto& d : described)
            kids += (kids.empty() ? "" : ", ") + d;
          log::info("jwks keys", {{"url", options_.url},
                                  {"count", static_cast<std::uint64_t>(described.size())},
                                  {"keys", kids}});
          // A JWK Set URL is usually public: a shared secret served there lets anyone who can read
          // it sign tokens. Accepted (a private endpoint may mean it), said loudly.
          if (kids.find("alg=HS") != std::string::npos) {
            log::warn("jwks url serves symmetric (oct) keys: anyone who can read it can sign tokens",
                      {{"url", options_.url}});
          }
          last_keys_ = std::move(described);
        }
        on_keys_(std::move(parsed.keys));
        // The first Cache-Control header (names are lower-case); looked up here rather than with
        // Response::header so that this file needs only the client's types.
        std::string_view cache_control;
        for (const auto& [name, value] : response.headers) {
          if (name == "cache-control") {
            cache_control = value;
            break;
          }
        }
        delay =
            next_refresh_delay(cache_control_max_age(cache_control), options_.refresh, options_.refresh_min);
      }
    } catch (const std::exception& e) {
      error = std::string("applying the key set: ") + e.what();
      delay = options_.refresh_min;
    }
  }
  if (!error.empty()) {
    log::warn(
        "jwks fetch failed: the last good key set stays",
        {{"url", options_.url}, {"error", error}, {"retry_ms", static_cast<std::int64_t>(delay.count())}});
  }
  if (first_) {
    auto first = std::move(first_);
    first_ = nullptr;
    first(error);
  }
  if (again_) {
    again_ = false;
    fetch("asked during a fetch");
    return;
  }
  schedule(delay);
}

void JwksSource::schedule(milliseconds delay) {  // on the strand
  if (stopped_) return;
  timer_.expires_after(delay);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) fetch("refresh");
  });
}

}  // namespace sig::app
