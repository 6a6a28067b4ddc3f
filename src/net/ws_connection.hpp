#pragma once
// One WebSocket connection: reads messages and hands them up to the WsHandler, and writes what
// the domain sends through a bounded queue. All its work runs on its own strand.
#include <deque>
#include <memory>
#include <optional>

#include "domain/endpoint.hpp"
#include "net/beast.hpp"
#include "net/server_context.hpp"
#include "net/ws_handler.hpp"

namespace sig::net {

class WsConnection final : public domain::Endpoint, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(tcp::socket&& socket, ServerContext& context);
  ~WsConnection() override;

  // Accepts the upgrade request that the HTTP connection has read.
  void run(http::request<http::string_body> request);

  void send(domain::Payload message) override;
  void close(protocol::CloseCode code, domain::Payload last_message) override;

 private:
  void on_accept(error_code ec);
  void on_admitted(Admission admission);
  void do_read();
  void on_read(error_code ec, std::size_t bytes);
  void enqueue(domain::Payload message);
  void do_write();
  void on_write(error_code ec, std::size_t bytes);
  void begin_close(protocol::CloseCode code, domain::Payload last_message);
  void do_close();
  void on_close(error_code ec);
  void finish();

  websocket::stream<beast::tcp_stream> ws_;
  ServerContext& context_;
  std::string target_;
  beast::flat_buffer buffer_;
  std::shared_ptr<ConnectionState> state_;
  std::deque<domain::Payload> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool reading_ = false;
  bool close_pending_ = false;  // close once the queue is written
  bool closing_ = false;        // close frame sent or being sent
  bool finished_ = false;       // on_closed delivered
  protocol::CloseCode close_code_ = protocol::CloseCode::normal;
};

}  // namespace sig::net
