#pragma once
// The platform's admin API (docs/protocol.md section 6), health checks, metrics and the
// development-mode token endpoint, as a pure function of the request.
#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "auth/jwt.hpp"
#include "domain/cluster_port.hpp"
#include "domain/hub.hpp"
#include "net/http_types.hpp"

namespace sig::app {

struct DevMode {
  const auth::Signer* signer = nullptr;  // signs demo tokens (with the dev node's own random secret)
  std::string session_id = "demo";       // the only session /dev/token signs for (and dev tokens join)
  // Short: a token copied out of a developer's browser is soon worthless; the demo page asks
  // /dev/token again on every (re)connection.
  std::chrono::seconds token_lifetime{10 * 60};
};

class AdminApi final : public net::HttpHandler {
 public:
  // metrics renders the Prometheus text; dev is set only in development mode.
  AdminApi(domain::Hub& hub, std::string admin_key, std::function<std::string()> metrics,
           std::optional<DevMode> dev = std::nullopt);

  // With a shared store (several nodes), a call on /api/sessions/{id} first re-reads that session
  // from the store, and a call that changes it answers once the store has applied the change: any
  // node then answers alike, also for what the platform wrote into the store directly.
  void set_cluster(domain::ClusterPort* cluster) noexcept { cluster_ = cluster; }

  void handle(net::HttpRequest request, Respond respond) override;
  // The answer from this node's copy, at once (what handle() gives on a single node).
  net::HttpResponse answer(const net::HttpRequest& request);
  void set_ready(bool ready) noexcept { ready_ = ready; }

 private:
  net::HttpResponse sessions(const net::HttpRequest& request, std::string_view rest);
  net::HttpResponse dev_token(std::string_view query) const;
  bool authorised(const net::HttpRequest& request) const;

  domain::Hub& hub_;
  std::string admin_key_;
  std::function<std::string()> metrics_;
  std::optional<DevMode> dev_;
  std::atomic<bool> ready_{false};
  domain::ClusterPort* cluster_ = nullptr;
};

// The JSON of GET /api/sessions/{id}; `now` dates the attendance (open intervals count so far).
std::string session_json(const domain::SessionSnapshot& s, domain::WallTime now);

}  // namespace sig::app
