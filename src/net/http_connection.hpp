#pragma once
// One HTTP connection: reads requests (keep-alive), answers the admin API, health checks and
// static files, and hands WebSocket upgrades of /ws/signaling to a WsConnection.
#include <memory>
#include <optional>

#include "net/beast.hpp"
#include "net/server_context.hpp"

namespace sig::net {

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(tcp::socket&& socket, ServerContext& context);
  void run();

 private:
  void do_read();
  void on_read(error_code ec, std::size_t bytes);
  void upgrade(const http::request<http::string_body>& request);
  void write(http::response<http::string_body> response);
  void on_write(bool keep_alive, error_code ec, std::size_t bytes);

  beast::tcp_stream stream_;
  ServerContext& context_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  std::string upgrade_answer_;
};

}  // namespace sig::net
