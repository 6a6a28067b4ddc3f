#pragma once
// A small outbound HTTP/1.1 client on Beast and the server's Asio loop, for the webhooks
// (POST) and the JWKS URL (GET). http: and https:; https verifies the peer's certificate chain
// and host name (the system trust store, or a CA file). One request per connection (no pooling:
// a webhook or a key refresh is rare enough), bounded in time and in response size. Never throws;
// the callback runs exactly once, on the client's strand.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace sig::http_client {

struct Request {
  std::string method = "GET";  // GET | POST
  std::string url;             // http[s]://host[:port]/path[?query]
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};  // the whole exchange: resolve, connect, TLS, write, read
  std::size_t max_response_bytes = std::size_t{1} << 20U;
};

struct Response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  // The first header of that name (lower-case), or empty.
  std::string header(std::string_view name) const;
};

struct ClientOptions {
  std::string tls_ca_file;  // empty: the system trust store
};

class Client {
 public:
  using Done = std::function<void(std::error_code, Response)>;
  // Throws std::runtime_error at construction only (a CA file that cannot be loaded).
  Client(boost::asio::io_context& io, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Any status is a success at this level (ec empty); errors: bad URL, resolve, connect, TLS
  // (including certificate verification), timeout, response too large, malformed response.
  void request(Request request, Done done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sig::http_client
