#include "net/http_connection.hpp"

#include "net/http_types.hpp"
#include "net/static_files.hpp"
#include "net/ws_connection.hpp"
#include "net/ws_handshake.hpp"
#include "protocol/codes.hpp"
#include "protocol/query.hpp"

namespace sig::net {

namespace {

constexpr std::string_view kSignalingPath = "/ws/signaling";

http::response<http::string_body> make_response(unsigned status, unsigned version, bool keep_alive,
                                                std::string_view content_type, std::string body) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::server, "signaling-server");
  res.set(http::field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

bool is_api_path(std::string_view path) {
  return path.starts_with("/api/") || path.starts_with("/dev/") || path == "/healthz" || path == "/readyz" ||
         path == "/metrics";
}

}  // namespace

HttpConnection::HttpConnection(tcp::socket&& socket, ServerContext& context)
    : stream_(std::move(socket)), context_(context) {}

void HttpConnection::run() {
  asio::dispatch(stream_.get_executor(),
                 beast::bind_front_handler(&HttpConnection::do_read, shared_from_this()));
}

void HttpConnection::do_read() {
  parser_.emplace();
  parser_->body_limit(context_.options.max_http_body);
  parser_->header_limit(16 * 1024);
  stream_.expires_after(context_.options.http_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpConnection::on_read, shared_from_this()));
}

void HttpConnection::on_read(error_code ec, std::size_t /*bytes*/) {
  if (ec == http::error::end_of_stream) {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  if (ec == http::error::body_limit) {
    write(make_response(413, 11, false, "application/json",
                        protocol::http_error_body(protocol::ErrorCode::body_too_large)));
    return;
  }
  if (ec) {
    if (ec != beast::error::timeout && ec != asio::error::operation_aborted &&
        ec != asio::error::connection_reset && ec != asio::error::eof) {
      write(make_response(
          400, 11, false, "application/json",
          protocol::http_error_body(protocol::ErrorCode::bad_request, "malformed HTTP request")));
    }
    return;
  }
  context_.counters.http_requests.fetch_add(1, std::memory_order_relaxed);
  auto& req = parser_->get();
  const auto target = protocol::split_target(req.target());

  if (target.path == kSignalingPath) {
    if (websocket::is_upgrade(req)) {
      upgrade(req);
      return;
    }
    write(make_response(426, req.version(), req.keep_alive(), "application/json",
                        protocol::http_error_body(protocol::ErrorCode::upgrade_required)));
    return;
  }
  if (websocket::is_upgrade(req)) {
    write(make_response(404, req.version(), false, "application/json",
                        protocol::http_error_body(protocol::ErrorCode::not_found)));
    return;
  }

  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (is_get && context_.static_files != nullptr && !is_api_path(target.path)) {
    if (const auto* file = context_.static_files->find(target.path)) {
      auto res = make_response(200, req.version(), req.keep_alive(), file->content_type, file->body);
      res.set(http::field::cache_control, "no-cache");
      if (req.method() == http::verb::head) res.body().clear();
      write(std::move(res));
      return;
    }
  }

  HttpRequest request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  request.authorization = std::string(req[http::field::authorization]);
  request.body = std::move(req.body());
  // The handler may answer later, from another thread: the answer comes back to this strand.
  stream_.expires_after(context_.options.http_timeout);
  context_.http.handle(std::move(request), [self = shared_from_this(), version = req.version(),
                                            keep_alive = req.keep_alive()](HttpResponse answer) {
    asio::dispatch(
        self->stream_.get_executor(), [self, version, keep_alive, answer = std::move(answer)]() mutable {
          auto res =
              make_response(answer.status, version, keep_alive, answer.content_type, std::move(answer.body));
          for (const auto& [name, value] : answer.headers)
            res.set(name, value);
          self->write(std::move(res));
        });
  });
}

// The opening handshake (RFC 6455 4.2.2); after the 101 the socket goes to a WsConnection.
void HttpConnection::upgrade(const http::request<http::string_body>& req) {
  const auto key = req[http::field::sec_websocket_key];
  if (!ws::valid_key(key)) {
    write(make_response(400, req.version(), false, "application/json",
                        protocol::http_error_body(protocol::ErrorCode::bad_request,
                                                  "Sec-WebSocket-Key must be 16 bytes in base64")));
    return;
  }
  if (req[http::field::sec_websocket_version] != "13") {
    auto res = make_response(426, req.version(), false, "application/json",
                             protocol::http_error_body(protocol::ErrorCode::upgrade_required,
                                                       "only WebSocket version 13 is supported"));
    res.set(http::field::sec_websocket_version, "13");
    write(std::move(res));
    return;
  }
  upgrade_answer_ =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Server: signaling-server\r\nSec-WebSocket-Accept: " +
      ws::accept_key(key) + "\r\n\r\n";
  std::string target(req.target());
  asio::async_write(
      stream_, asio::buffer(upgrade_answer_),
      [self = shared_from_this(), target = std::move(target)](error_code ec, std::size_t) mutable {
        if (ec) return;
        self->stream_.expires_never();
        const auto rest = self->buffer_.cdata();
        std::string leftover(static_cast<const char*>(rest.data()), rest.size());
        std::make_shared<WsConnection>(self->stream_.release_socket(), self->context_, std::move(leftover))
            ->run(target);
      });
}

void HttpConnection::write(http::response<http::string_body> response) {
  response_ = std::make_shared<http::response<http::string_body>>(std::move(response));
  const bool keep_alive = response_->keep_alive();
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpConnection::on_write, shared_from_this(), keep_alive));
}

void HttpConnection::on_write(bool keep_alive, error_code ec, std::size_t /*bytes*/) {
  response_.reset();
  if (ec) return;
  if (!keep_alive) {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  do_read();
}

}  // namespace sig::net
