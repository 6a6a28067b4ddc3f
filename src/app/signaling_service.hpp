#pragma once
// The glue between the WebSocket transport and the domain: admission (token, session,
// participant), message dispatch and relay. No Beast here: it is driven through net::WsHandler
// and testable with a recording endpoint.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "auth/jwt.hpp"
#include "domain/cluster_port.hpp"
#include "domain/hub.hpp"
#include "domain/rate_limiter.hpp"
#include "net/ws_handler.hpp"

namespace sig::app {

struct ServiceOptions {
  double rate_limit = 50;
  double rate_burst = 200;
  // --dev: every token is a development token, valid for this session only; a join to any other
  // session is refused as invalid_token. Empty: no such restriction.
  std::string only_session;
};

struct ServiceCounters {
  std::atomic<std::uint64_t> relayed{0};
  std::atomic<std::uint64_t> joins{0};
  std::atomic<std::uint64_t> heartbeats{0};
  std::atomic<std::uint64_t> errors_sent{0};
  std::atomic<std::uint64_t> rate_limited{0};
  std::array<std::atomic<std::uint64_t>, protocol::kErrorCount> rejections{};  // by protocol::ErrorCode
};

class SignalingService final : public net::WsHandler {
 public:
  // With `cluster` (several nodes), admission goes through the shared store and relays to
  // participants of other nodes go through it.
  SignalingService(domain::Hub& hub, const auth::Verifier& verifier, ServiceOptions options,
                   domain::ClusterPort* cluster = nullptr);

  void open(std::string_view target, const std::shared_ptr<domain::Endpoint>& self, std::string connection_id,
            AdmissionCallback done) override;
  // The same, answered at once (the embedded store never waits; single node only).
  net::Admission admit(std::string_view target, const std::shared_ptr<domain::Endpoint>& self,
                       const std::string& connection_id);
  void on_text(net::ConnectionState& state, domain::Endpoint& self, std::string_view padded_text) override;
  void on_binary(net::ConnectionState& state, domain::Endpoint& self) override;
  void on_closed(net::ConnectionState& state, net::Departure how) override;

  const ServiceCounters& counters() const noexcept { return counters_; }

  // SIGHUP (app/reload.hpp): the rate limit of the connections admitted from now on; those
  // already open keep the limiter they were given.
  void set_rate_limits(double rate, double burst);

 private:
  void send_error(domain::Endpoint& self, protocol::ErrorCode code, std::string_view message,
                  std::string_view to_user_id = {});
  struct Request {
    std::string session_id;
    domain::Identity identity;
    domain::ResumeRequest resume;
  };
  // Checks the query and the token; on failure fills `refused`.
  std::optional<Request> check_request(std::string_view target, const std::string& connection_id,
                                       net::Admission& refused);
  net::Admission refuse(protocol::ErrorCode code, std::string message, const std::string& connection_id);
  net::Admission admitted(domain::HubJoin joined, const Request& request, const std::string& connection_id);

  domain::Hub& hub_;
  const auth::Verifier& verifier_;
  ServiceOptions options_;
  std::mutex rate_mutex_;  // guards options_.rate_limit and rate_burst (set_rate_limits)
  domain::ClusterPort* const cluster_;
  ServiceCounters counters_;
};

}  // namespace sig::app
