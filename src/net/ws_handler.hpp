#pragma once
// How the WebSocket transport talks upward. The transport knows nothing of sessions or JSON;
// the signaling service (app module) implements this.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "domain/endpoint.hpp"
#include "protocol/codes.hpp"

namespace sig::net {

// Per-connection state owned by the handler (who the peer is, its session, its rate limit).
class ConnectionState {
 public:
  virtual ~ConnectionState() = default;
};

struct Admission {
  std::shared_ptr<ConnectionState> state;                        // set when admitted
  protocol::ErrorCode error = protocol::ErrorCode::bad_request;  // when refused
  std::string message;                                           // when refused
};

// How a connection ended, for presence: a participant who said goodbye (a close frame it sent
// first) or broke the protocol leaves at once; one whose connection was lost (TCP closed or reset
// without a close frame, a socket error, a close this server started: drain, slow reader, stop)
// may come back and resume (docs/protocol.md, "Resume").
enum class Departure { clean, lost };

class WsHandler {
 public:
  virtual ~WsHandler() = default;
  using AdmissionCallback = std::function<void(Admission)>;
  // The upgrade succeeded. `target` is the request target (path and query). `self` is the
  // connection, to send to and to close. Runs on the connection's strand; `done` may be called
  // before open returns or later from any thread (a store may have to answer first), once.
  virtual void open(std::string_view target, const std::shared_ptr<domain::Endpoint>& self,
                    std::string connection_id, AdmissionCallback done) = 0;
  // A text message. The text is followed by at least protocol::MessageParser::kPadding readable
  // bytes. Runs on the connection's strand.
  virtual void on_text(ConnectionState& state, domain::Endpoint& self, std::string_view padded_text) = 0;
  virtual void on_binary(ConnectionState& state, domain::Endpoint& self) = 0;
  // The connection is gone (read error, closed by either side). Called once.
  virtual void on_closed(ConnectionState& state, Departure how) = 0;
};

}  // namespace sig::net
