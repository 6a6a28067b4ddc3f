#pragma once
// Plain request and response values, so routing is a pure function testable without a socket.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sig::net {

struct HttpRequest {
  std::string method;         // "GET", "PUT", ...
  std::string target;         // path and query, as received
  std::string authorization;  // the Authorization header, or empty
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpHandler {
 public:
  using Respond = std::function<void(HttpResponse)>;
  virtual ~HttpHandler() = default;
  // Called on a network thread; must not block. Calls respond exactly once: before returning or
  // later, from any thread (e.g. after a round trip to a shared store).
  virtual void handle(HttpRequest request, Respond respond) = 0;
};

}  // namespace sig::net
