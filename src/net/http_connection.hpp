#pragma once
// One HTTP connection: reads requests (keep-alive), answers the admin API, health checks and
// static files, and hands WebSocket upgrades of /ws/signaling to a WsConnection. Every request
// goes through a RequestReader (net/http_limits.hpp), which bounds its size; timers bound the
// head, the body, the wait between requests and the connection's whole life.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "net/beast.hpp"
#include "net/connection_limits.hpp"
#include "net/http_limits.hpp"
#include "net/server_context.hpp"

namespace sig::net {

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(tcp::socket&& socket, ServerContext& context, ListenerRole role, ConnectionSlot slot);
  void run();

 private:
  using Clock = std::chrono::steady_clock;

  void start_request();
  void do_read();
  void on_read(error_code ec, std::size_t bytes);
  void on_parsed(RequestReader::Status status);
  void on_request();
  // Behind a trusted proxy: counts the connection against the client the proxy names.
  bool attribute_client();
  void call_handler(bool keep_alive);
  void upgrade();
  void refuse(protocol::ErrorCode code, std::string_view text = {});
  void write(http::response<http::string_body> response);
  void on_write(bool keep_alive, error_code ec, std::size_t bytes);
  void linger();
  void linger_more();
  // Keep the connection open after this request? Not past the request or lifetime limit.
  bool may_keep_alive(bool requested) const;

  beast::tcp_stream stream_;
  ServerContext& context_;
  ConnectionSlot slot_;  // goes with the socket to the WsConnection
  RequestReader reader_;
  std::shared_ptr<http::response<http::string_body>> response_;
  std::string upgrade_answer_;
  Clock::time_point end_of_life_;  // no new request after this
  std::size_t requests_ = 0;
  bool head_timer_ = false;
  asio::ip::address peer_;
  bool via_proxy_ = false;  // the peer is a --trusted-proxy
  // A WebSocket client over its limit is refused after the upgrade (close 1013), which it can
  // read, where a refused handshake is only a failure to it.
  bool refuse_after_upgrade_ = false;  // the head's deadline is set (the request's
                                       // first bytes arrived)
};

}  // namespace sig::net
