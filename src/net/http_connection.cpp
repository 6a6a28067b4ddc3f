#include "net/http_connection.hpp"

#include <exception>

#include "common/log.hpp"
#include "net/http_types.hpp"
#include "net/static_files.hpp"
#include "net/ws_connection.hpp"
#include "net/ws_handshake.hpp"
#include "protocol/codes.hpp"
#include "protocol/query.hpp"

namespace sig::net {

namespace {

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

http::response<http::string_body> error_response(protocol::ErrorCode code, unsigned version, bool keep_alive,
                                                 std::string_view text = {}) {
  return make_response(protocol::http_status_for(code), version, keep_alive, "application/json",
                       protocol::http_error_body(code, text));
}

// How long a closing connection reads (and drops) what the client still sends.
constexpr std::chrono::seconds kLinger{2};

}  // namespace

HttpConnection::HttpConnection(tcp::socket&& socket, ServerContext& context, ListenerRole role,
                               ConnectionSlot slot)
    : stream_(std::move(socket)),
      context_(context),
      slot_(std::move(slot)),
      reader_(context.options.http, role),
      end_of_life_(Clock::now() + context.options.http.max_lifetime) {
  error_code ec;
  peer_ = stream_.socket().remote_endpoint(ec).address();
  via_proxy_ = !ec && context_.trusted_proxies.contains(peer_);
}

void HttpConnection::run() {
  asio::dispatch(stream_.get_executor(),
                 beast::bind_front_handler(&HttpConnection::start_request, shared_from_this()));
}

// Waiting for a request: the idle limit, and never past the connection's end of life.
void HttpConnection::start_request() {
  reader_.reset();
  head_timer_ = false;
  const auto deadline = std::min(Clock::now() + context_.options.http.idle_timeout, end_of_life_);
  stream_.expires_at(deadline);
  if (reader_.started()) {
    on_parsed(reader_.parse());  // a pipelined request is already in the buffer
    return;
  }
  do_read();
}

void HttpConnection::do_read() {
  stream_.async_read_some(reader_.prepare(),
                          beast::bind_front_handler(&HttpConnection::on_read, shared_from_this()));
}

void HttpConnection::on_read(error_code ec, std::size_t bytes) {
  if (ec == asio::error::eof) {
    if (!reader_.started()) {
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    on_parsed(reader_.parse_eof());
    return;
  }
  if (ec) return;  // timeout, reset, aborted: nothing to answer
  reader_.commit(bytes);
  if (!head_timer_) {
    // The request's first bytes: from now on its head has head_timeout to arrive, whatever the
    // pace (a trickle does not renew it).
    head_timer_ = true;
    stream_.expires_after(context_.options.http.head_timeout);
  }
  on_parsed(reader_.parse());
}

void HttpConnection::on_parsed(RequestReader::Status status) {
  switch (status) {
    case RequestReader::Status::need_more: do_read(); return;
    case RequestReader::Status::head_done:
      if (via_proxy_ && !attribute_client()) return;
      // The body, the handler and the answer.
      stream_.expires_after(context_.options.http.body_timeout);
      on_parsed(reader_.parse());
      return;
    case RequestReader::Status::complete: on_request(); return;
    case RequestReader::Status::failed:
      log::debug("http request refused", {{"error", protocol::to_string(reader_.error())}});
      refuse(reader_.error(), reader_.error_text());
      return;
  }
}

namespace {
// Every value of a header that may come on several lines, joined by commas.
std::string joined(const http::request<http::string_body>& req, std::string_view name) {
  std::string out;
  for (auto [it, end] = req.equal_range(name); it != end; ++it) {
    if (!out.empty()) out += ',';
    out.append(it->value().data(), it->value().size());
  }
  return out;
}
}  // namespace

bool HttpConnection::attribute_client() {
  const auto& req = reader_.request();
  const auto client =
      forwarded_client(joined(req, "X-Forwarded-For"), joined(req, "Forwarded"), context_.trusted_proxies)
          .value_or(peer_);
  const auto refusal = slot_.attribute_to(client);
  if (refusal == Refusal::none) {
    if (log::enabled(log::Level::debug))
      log::debug("forwarded client", {{"client", client.to_string()}, {"proxy", peer_.to_string()}});
    return true;
  }
  context_.limiter->count_refusal(refusal);
  log::warn("connection refused",
            {{"client", client.to_string()}, {"proxy", peer_.to_string()}, {"reason", to_string(refusal)}});
  if (reader_.route() == Route::websocket) {
    refuse_after_upgrade_ = true;
    return true;
  }
  refuse(protocol::ErrorCode::overloaded);
  return false;
}

bool HttpConnection::may_keep_alive(bool requested) const {
  return requested && requests_ < context_.options.http.max_requests && Clock::now() < end_of_life_;
}

void HttpConnection::on_request() {
  ++requests_;
  context_.counters.http_requests.fetch_add(1, std::memory_order_relaxed);
  auto& req = reader_.request();
  const bool keep_alive = may_keep_alive(req.keep_alive());
  switch (reader_.route()) {
    case Route::websocket: upgrade(); return;
    case Route::upgrade_required:
      write(error_response(protocol::ErrorCode::upgrade_required, req.version(), keep_alive));
      return;
    case Route::not_found:
      write(error_response(protocol::ErrorCode::not_found, req.version(), false));
      return;
    case Route::static_or_handler:
    case Route::handler:
    case Route::admin_api: break;
  }
  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (is_get && context_.static_files != nullptr && reader_.route() == Route::static_or_handler) {
    const auto target = protocol::split_target(std::string_view(req.target().data(), req.target().size()));
    if (const auto* file = context_.static_files->find(target.path)) {
      auto res = make_response(200, req.version(), keep_alive, file->content_type, file->body);
      res.set(http::field::cache_control, "no-cache");
      if (req.method() == http::verb::head) res.body().clear();
      write(std::move(res));
      return;
    }
  }
  call_handler(keep_alive);
}

// The upper layer answers; whatever it throws answers 500 for this request only.
void HttpConnection::call_handler(bool keep_alive) {
  auto& req = reader_.request();
  HttpRequest request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  request.authorization = std::string(req[http::field::authorization]);
  request.body = std::move(req.body());
  const unsigned version = req.version();
  try {
    // The handler may answer later, from another thread: the answer comes back to this strand.
    context_.http.handle(
        std::move(request), [self = shared_from_this(), version, keep_alive](HttpResponse answer) {
          asio::dispatch(self->stream_.get_executor(),
                         [self, version, keep_alive, answer = std::move(answer)]() mutable {
                           auto res = make_response(answer.status, version, keep_alive, answer.content_type,
                                                    std::move(answer.body));
                           for (const auto& [name, value] : answer.headers)
                             res.set(name, value);
                           self->write(std::move(res));
                         });
        });
  } catch (const std::exception& e) {
    log::error("http handler threw", {{"error", e.what()}});
    write(error_response(protocol::ErrorCode::internal, version, false));
  } catch (...) {
    log::error("http handler threw", {{"error", "unknown exception"}});
    write(error_response(protocol::ErrorCode::internal, version, false));
  }
}

// The opening handshake (RFC 6455 4.2.2); after the 101 the socket goes to a WsConnection.
void HttpConnection::upgrade() {
  auto& req = reader_.request();
  if (context_.websockets.draining()) {
    // Before the 101: a load balancer reads the 503 and tries another node (nginx:
    // proxy_next_upstream http_503); a browser sees a failed handshake and retries.
    refuse(protocol::ErrorCode::draining);
    return;
  }
  const auto key = req[http::field::sec_websocket_key];
  if (!ws::valid_key(key)) {
    refuse(protocol::ErrorCode::bad_request, "Sec-WebSocket-Key must be 16 bytes in base64");
    return;
  }
  if (req[http::field::sec_websocket_version] != "13") {
    auto res = error_response(protocol::ErrorCode::upgrade_required, req.version(), false,
                              "only WebSocket version 13 is supported");
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
        std::string leftover(self->reader_.leftover());
        auto ws = std::make_shared<WsConnection>(self->stream_.release_socket(), self->context_,
                                                 std::move(leftover), std::move(self->slot_));
        if (self->refuse_after_upgrade_) {
          ws->refuse(protocol::ErrorCode::overloaded);
        } else {
          ws->run(target);
        }
      });
}

// An error answer, then the connection closes (what is left of the request is not read).
void HttpConnection::refuse(protocol::ErrorCode code, std::string_view text) {
  write(error_response(code, 11, false, text));
}

void HttpConnection::write(http::response<http::string_body> response) {
  response_ = std::make_shared<http::response<http::string_body>>(std::move(response));
  const bool keep_alive = response_->keep_alive();
  stream_.expires_after(context_.options.http.body_timeout);
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpConnection::on_write, shared_from_this(), keep_alive));
}

void HttpConnection::on_write(bool keep_alive, error_code ec, std::size_t /*bytes*/) {
  response_.reset();
  if (ec) return;
  if (!keep_alive) {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    linger();
    return;
  }
  start_request();
}

// After the last answer, read and drop what the client still sends, for a short while: closing
// a socket with unread data sends a reset, and the client may then lose the answer (a 431 sent
// while it was still writing its endless trailer, say).
void HttpConnection::linger() {
  stream_.expires_after(kLinger);
  reader_.discard();
  stream_.async_read_some(reader_.prepare(), [self = shared_from_this()](error_code ec, std::size_t) {
    if (!ec) self->linger_more();
  });
}

void HttpConnection::linger_more() {
  reader_.discard();
  stream_.async_read_some(reader_.prepare(), [self = shared_from_this()](error_code ec, std::size_t) {
    if (!ec) self->linger_more();
  });
}

}  // namespace sig::net
