#include "net/ws_connection.hpp"

#include "protocol/client_message.hpp"
#include "protocol/server_messages.hpp"

namespace sig::net {

namespace {

// A read buffer larger than this is given back once its message is handled, so an idle
// connection keeps little memory after a large SDP.
constexpr std::size_t kKeepBufferBytes = 4096;

std::string_view reason_text(protocol::CloseCode code) {
  using protocol::CloseCode;
  switch (code) {
    case CloseCode::normal: return "normal";
    case CloseCode::going_away: return "server_shutdown";
    case CloseCode::too_big: return "message_too_big";
    case CloseCode::bad_request: return "bad_request";
    case CloseCode::invalid_token: return "invalid_token";
    case CloseCode::not_participant: return "not_participant";
    case CloseCode::session_not_found: return "session_not_found";
    case CloseCode::heartbeat_timeout: return "heartbeat_timeout";
    case CloseCode::session_full: return "session_full";
    case CloseCode::session_ended: return "session_ended";
    case CloseCode::flood: return "rate_limited";
    case CloseCode::replaced: return "replaced";
    case CloseCode::removed: return "removed";
    case CloseCode::slow_consumer: return "slow_consumer";
  }
  return "";
}

}  // namespace

WsConnection::WsConnection(tcp::socket&& socket, ServerContext& context)
    : ws_(std::move(socket)), context_(context) {
  context_.counters.websockets_open.fetch_add(1, std::memory_order_relaxed);
}

WsConnection::~WsConnection() {
  context_.counters.websockets_open.fetch_sub(1, std::memory_order_relaxed);
}

void WsConnection::run(http::request<http::string_body> request) {
  target_ = std::string(request.target());
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = context_.options.http_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();  // liveness is the heartbeat's job
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "signaling-server"); }));
  ws_.read_message_max(context_.options.max_message_size);
  ws_.auto_fragment(false);
  beast::get_lowest_layer(ws_).expires_never();
  ws_.async_accept(request, beast::bind_front_handler(&WsConnection::on_accept, shared_from_this()));
}

void WsConnection::on_accept(error_code ec) {
  if (ec) return;  // the handshake failed; nothing was admitted
  auto self = shared_from_this();
  context_.ws.open(target_, self, context_.new_connection_id(), [self](Admission admission) {
    asio::post(self->ws_.get_executor(),
               [self, a = std::move(admission)]() mutable { self->on_admitted(std::move(a)); });
  });
  target_.clear();
  target_.shrink_to_fit();
}

void WsConnection::on_admitted(Admission admission) {
  if (!admission.state) {
    // Refused: one error message, then the close frame; no read loop, nobody else hears of it.
    finished_ = true;
    begin_close(protocol::close_code_for(admission.error),
                domain::make_payload(protocol::error(admission.error, admission.message)));
    return;
  }
  state_ = std::move(admission.state);
  do_read();
}

void WsConnection::do_read() {
  reading_ = true;
  ws_.async_read(buffer_, beast::bind_front_handler(&WsConnection::on_read, shared_from_this()));
}

void WsConnection::on_read(error_code ec, std::size_t bytes) {
  reading_ = false;
  if (ec) {
    finish();
    return;
  }
  context_.counters.messages_in.fetch_add(1, std::memory_order_relaxed);
  if (ws_.got_text()) {
    buffer_.prepare(protocol::MessageParser::kPadding);  // the parser reads past the end
    const auto data = buffer_.cdata();
    context_.ws.on_text(*state_, *this, std::string_view(static_cast<const char*>(data.data()), bytes));
  } else {
    context_.ws.on_binary(*state_, *this);
  }
  buffer_.consume(buffer_.size());
  if (buffer_.capacity() > kKeepBufferBytes) buffer_.shrink_to_fit();
  if (!closing_ && !close_pending_) do_read();
}

void WsConnection::send(domain::Payload message) {
  asio::post(ws_.get_executor(),
             [self = shared_from_this(), m = std::move(message)]() mutable { self->enqueue(std::move(m)); });
}

void WsConnection::close(protocol::CloseCode code, domain::Payload last_message) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, m = std::move(last_message)]() mutable {
    self->begin_close(code, std::move(m));
  });
}

void WsConnection::enqueue(domain::Payload message) {
  if (closing_ || close_pending_) return;
  if (queued_bytes_ + message->size() > context_.options.write_queue_limit) {
    context_.counters.slow_consumers.fetch_add(1, std::memory_order_relaxed);
    // The reader is too slow: drop what it has not taken and close, instead of growing memory.
    while (queue_.size() > (writing_ ? 1U : 0U)) {
      queued_bytes_ -= queue_.back()->size();
      queue_.pop_back();
    }
    begin_close(protocol::CloseCode::slow_consumer, nullptr);
    return;
  }
  queued_bytes_ += message->size();
  queue_.push_back(std::move(message));
  if (!writing_) do_write();
}

void WsConnection::do_write() {
  writing_ = true;
  ws_.text(true);
  ws_.async_write(asio::buffer(*queue_.front()),
                  beast::bind_front_handler(&WsConnection::on_write, shared_from_this()));
}

void WsConnection::on_write(error_code ec, std::size_t /*bytes*/) {
  writing_ = false;
  if (ec) {
    queue_.clear();
    queued_bytes_ = 0;
    finish();
    return;
  }
  context_.counters.messages_out.fetch_add(1, std::memory_order_relaxed);
  queued_bytes_ -= queue_.front()->size();
  queue_.pop_front();
  if (!queue_.empty()) {
    do_write();
  } else if (close_pending_ && !closing_) {
    do_close();
  }
}

void WsConnection::begin_close(protocol::CloseCode code, domain::Payload last_message) {
  if (closing_ || close_pending_) return;
  if (last_message) {
    queued_bytes_ += last_message->size();
    queue_.push_back(std::move(last_message));
  }
  close_code_ = code;
  close_pending_ = true;
  if (!writing_) {
    if (queue_.empty()) {
      do_close();
    } else {
      do_write();
    }
  }
}

void WsConnection::do_close() {
  closing_ = true;
  ws_.async_close(
      websocket::close_reason(static_cast<websocket::close_code>(close_code_), reason_text(close_code_)),
      beast::bind_front_handler(&WsConnection::on_close, shared_from_this()));
}

void WsConnection::on_close(error_code /*ec*/) {
  // The close handshake is done (or failed). A pending read ends with an error and calls
  // finish() itself; without one, finish here.
  if (!reading_) finish();
}

void WsConnection::finish() {
  if (finished_) return;
  finished_ = true;
  if (state_) context_.ws.on_closed(*state_);
}

}  // namespace sig::net
