#pragma once
// What the domain needs from a connection. The network layer implements it; tests implement
// it with a recorder. Both calls only queue work and return at once; they may be called from
// any thread, and messages to one endpoint keep the order of the calls.
#include <memory>
#include <string>

#include "protocol/codes.hpp"

namespace sig::domain {

using Payload = std::shared_ptr<const std::string>;

inline Payload make_payload(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual void send(Payload message) = 0;
  // Sends last_message (when not null) after what is queued, then closes with the code.
  virtual void close(protocol::CloseCode code, Payload last_message) = 0;
};

}  // namespace sig::domain
