#include "app/signaling_service.hpp"

#include <array>
#include <utility>

#include <openssl/rand.h>

#include "common/log.hpp"
#include "protocol/client_message.hpp"
#include "protocol/query.hpp"
#include "protocol/server_messages.hpp"

namespace sig::app {

using protocol::ErrorCode;
using protocol::MessageType;

namespace {

struct Connection final : net::ConnectionState {
  Connection(std::shared_ptr<domain::Session> s, std::shared_ptr<domain::Participant> p,
             domain::RateLimiter l)
      : session(std::move(s)), participant(std::move(p)), limiter(l) {}
  std::shared_ptr<domain::Session> session;
  std::shared_ptr<domain::Participant> participant;
  domain::RateLimiter limiter;
};

protocol::MessageParser& thread_parser() {
  thread_local protocol::MessageParser parser;
  return parser;
}

// A new incarnation's resumeId: 144 random bits, base64url. Unguessable, so a resumeId cannot be
// forged; the token is checked as well, so a leaked one is of no use to anyone but its user.
std::string fresh_resume_id() {
  std::array<unsigned char, 18> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return {};  // no resume then
  return auth::base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

const domain::Payload& plain_heartbeat_ack() {
  static const domain::Payload ack = domain::make_payload(protocol::heartbeat_ack(std::nullopt));
  return ack;
}

std::string_view relay_error_text(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_target: return "a message cannot be sent to oneself";
    case ErrorCode::undelivered:
      return "this user is reconnecting and the messages kept for it reached their limit: this one was "
             "dropped";
    default: return "this user is not connected to this session";
  }
}

}  // namespace

SignalingService::SignalingService(domain::Hub& hub, const auth::Verifier& verifier, ServiceOptions options,
                                   domain::ClusterPort* cluster)
    : hub_(hub), verifier_(verifier), options_(std::move(options)), cluster_(cluster) {}

void SignalingService::open(std::string_view target, const std::shared_ptr<domain::Endpoint>& self,
                            std::string connection_id, AdmissionCallback done) {
  if (cluster_ == nullptr) {
    done(admit(target, self, connection_id));
    return;
  }
  net::Admission refused;
  auto request = check_request(target, connection_id, refused);
  if (!request) {
    done(std::move(refused));
    return;
  }
  auto session_id = request->session_id;
  auto identity = request->identity;
  auto resume = request->resume;
  cluster_->join(std::move(session_id), std::move(identity), connection_id, self, std::move(resume),
                 [this, done = std::move(done), request = std::move(*request), connection_id](
                     domain::HubJoin joined) { done(admitted(std::move(joined), request, connection_id)); });
}

net::Admission SignalingService::refuse(ErrorCode code, std::string message,
                                        const std::string& connection_id) {
  counters_.rejections[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
  net::Admission refused;
  refused.error = code;
  refused.message = std::move(message);
  log::debug("connection refused", {{"code", protocol::to_string(code)}, {"connection", connection_id}});
  return refused;
}

std::optional<SignalingService::Request> SignalingService::check_request(std::string_view target,
                                                                         const std::string& connection_id,
                                                                         net::Admission& refused) {
  if (!protocol::utf8_target(target)) {
    refused = refuse(ErrorCode::invalid_utf8, "the path or the query is not valid UTF-8", connection_id);
    return std::nullopt;
  }
  const auto parts = protocol::split_target(target);
  const auto session_id = protocol::query_param(parts.query, "sessionId");
  if (!session_id || session_id->empty()) {
    refused = refuse(ErrorCode::bad_request, "the sessionId parameter is required", connection_id);
    return std::nullopt;
  }
  if (cluster_ != nullptr && !cluster_->accepts_session_id(*session_id)) {
    refused = refuse(ErrorCode::bad_request, std::string(domain::kSessionIdRefused), connection_id);
    return std::nullopt;
  }
  const auto token = protocol::query_param(parts.query, "token");
  if (!token || token->empty()) {
    refused = refuse(ErrorCode::invalid_token, "the token parameter is required", connection_id);
    return std::nullopt;
  }
  auth::Claims claims;
  const auto now_unix =
      std::chrono::duration_cast<std::chrono::seconds>(hub_.clock().wall_now().time_since_epoch()).count();
  if (const auto ec = verifier_.verify(*token, now_unix, claims)) {
    refused = refuse(ErrorCode::invalid_token, "token rejected: " + ec.message(), connection_id);
    return std::nullopt;
  }
  if (!options_.only_session.empty() && *session_id != options_.only_session) {
    refused = refuse(ErrorCode::invalid_token,
                     "development tokens are valid for the session " + options_.only_session + " only",
                     connection_id);
    return std::nullopt;
  }
  // A resumeId longer than any this server makes is no resumeId (and not kept anywhere).
  const auto presented = protocol::query_param(parts.query, "resume");
  domain::ResumeRequest resume{presented && presented->size() <= 64 ? std::string(*presented) : std::string(),
                               fresh_resume_id()};
  return Request{std::string(*session_id),
                 domain::Identity{std::move(claims.subject), std::move(claims.display_name)},
                 std::move(resume)};
}

net::Admission SignalingService::admitted(domain::HubJoin joined, const Request& request,
                                          const std::string& connection_id) {
  if (joined.error)
    return refuse(*joined.error, std::string(protocol::default_message(*joined.error)), connection_id);
  counters_.joins.fetch_add(1, std::memory_order_relaxed);
  log::debug(
      "joined",
      {{"session", request.session_id}, {"user", request.identity.user_id}, {"connection", connection_id}});
  double rate = 0, burst = 0;
  {
    const std::lock_guard lock(rate_mutex_);
    rate = options_.rate_limit;
    burst = options_.rate_burst;
  }
  net::Admission admission;
  admission.state = std::make_shared<Connection>(std::move(joined.session), std::move(joined.participant),
                                                 domain::RateLimiter(rate, burst, hub_.clock().now()));
  return admission;
}

void SignalingService::set_rate_limits(double rate, double burst) {
  const std::lock_guard lock(rate_mutex_);
  options_.rate_limit = rate;
  options_.rate_burst = burst;
}

net::Admission SignalingService::admit(std::string_view target, const std::shared_ptr<domain::Endpoint>& self,
                                       const std::string& connection_id) {
  net::Admission refused;
  const auto request = check_request(target, connection_id, refused);
  if (!request) return refused;
  auto joined =
      hub_.join(request->session_id, request->identity, connection_id, self, nullptr, &request->resume);
  return admitted(std::move(joined), *request, connection_id);
}

void SignalingService::send_error(domain::Endpoint& self, ErrorCode code, std::string_view message,
                                  std::string_view to_user_id) {
  counters_.errors_sent.fetch_add(1, std::memory_order_relaxed);
  self.send(domain::make_payload(protocol::error(code, message, to_user_id)));
}

void SignalingService::on_text(net::ConnectionState& state, domain::Endpoint& self,
                               std::string_view padded_text) {
  auto& c = static_cast<Connection&>(state);
  const auto now = hub_.clock().now();
  c.participant->touch(now);

  switch (c.limiter.on_message(now)) {
    case domain::RateLimiter::Verdict::accept: break;
    case domain::RateLimiter::Verdict::drop:
      counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
      return;
    case domain::RateLimiter::Verdict::drop_and_warn:
      counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
      send_error(self, ErrorCode::rate_limited, "too many messages: this one was dropped");
      return;
    case domain::RateLimiter::Verdict::flood:
      counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
      // Closed by the server, not a goodbye: the platform hears `disconnected`.
      c.session->leave(c.participant, now, domain::LeaveCause::closed);
      self.close(protocol::CloseCode::flood,
                 domain::make_payload(protocol::error(ErrorCode::rate_limited, "message flood: closing")));
      return;
  }

  protocol::ClientMessage msg;
  if (const auto err = thread_parser().parse(padded_text, msg)) {
    send_error(self, err->code, err->detail);
    return;
  }
  switch (msg.type) {
    case MessageType::offer:
    case MessageType::answer:
    case MessageType::ice_candidate: {
      auto message = domain::make_payload(protocol::relayed(padded_text, c.participant->from_suffix()));
      const auto epoch = cluster_ != nullptr ? cluster_->relay_epoch() : 0;  // before the domain's check
      auto routed = c.session->relay(*c.participant, msg.to_user_id, message);
      if (routed.error) {
        send_error(self, *routed.error, relay_error_text(*routed.error), msg.to_user_id);
        return;
      }
      if (!routed.remote_connection.empty() && cluster_ != nullptr) {
        cluster_->relay(c.session->id(), routed.remote_connection, c.participant->user_id(),
                        std::move(message), epoch);
      }
      counters_.relayed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    case MessageType::heartbeat:
      counters_.heartbeats.fetch_add(1, std::memory_order_relaxed);
      c.session->heartbeat(*c.participant, hub_.clock().wall_now());
      self.send(msg.ts ? domain::make_payload(protocol::heartbeat_ack(msg.ts)) : plain_heartbeat_ack());
      return;
    case MessageType::start_session:
      if (const auto err = c.session->start(c.participant.get(), now, hub_.clock().wall_now())) {
        send_error(self, *err,
                   *err == ErrorCode::not_host ? "only the host can start the session"
                                               : "the session has already started or ended");
      }
      return;
    case MessageType::end_session:
      if (const auto err = c.session->end(c.participant.get(), domain::EndReason::host_ended, now,
                                          hub_.clock().wall_now())) {
        send_error(
            self, *err,
            *err == ErrorCode::not_host ? "only the host can end the session" : "the session has ended");
      }
      return;
    case MessageType::leave:
      c.session->leave(c.participant, now);
      self.close(protocol::CloseCode::normal, nullptr);
      return;
  }
}

void SignalingService::on_binary(net::ConnectionState& state, domain::Endpoint& self) {
  auto& c = static_cast<Connection&>(state);
  c.participant->touch(hub_.clock().now());
  send_error(self, ErrorCode::binary_not_supported, "binary frames are not supported; send JSON text");
}

void SignalingService::on_closed(net::ConnectionState& state, net::Departure how) {
  auto& c = static_cast<Connection&>(state);
  if (how == net::Departure::clean) {
    c.session->leave(c.participant, hub_.clock().now());
  } else {
    c.session->lose(c.participant, hub_.clock().now());
  }
}

}  // namespace sig::app
