#include "net/ws_connection.hpp"

#include <array>
#include <cstring>
#include <vector>

#include "protocol/server_messages.hpp"

namespace sig::net {

namespace {

constexpr std::size_t kReadSize = std::size_t{64} * 1024;
constexpr std::size_t kMaxBatch = 64;                            // frames in one gather write
constexpr std::size_t kMaxBatchBytes = std::size_t{256} * 1024;  // bytes in one gather write
constexpr int kReadsPerWakeup = 4;                               // then let other connections run
constexpr std::chrono::seconds kCloseTimeout{5};                 // for the peer's close frame
constexpr std::chrono::seconds kSlowCloseTimeout{1};             // for a reader that does not read

// The thread's read buffer, with room for the parser's padding after the largest read.
std::uint8_t* thread_read_buffer() {
  thread_local std::vector<std::uint8_t> buffer(kReadSize + ws::MessageAssembler::kPadding);
  return buffer.data();
}

struct Batch {
  std::vector<std::array<std::uint8_t, ws::kMaxHeaderLength>> headers;
  std::vector<asio::const_buffer> buffers;
};

}  // namespace

struct FrameSink {
  WsConnection& c;
  void on_message(ws::Opcode opcode, std::string_view payload) { c.on_message(opcode, payload); }
  void on_control(ws::Opcode opcode, std::string_view payload) { c.on_control(opcode, payload); }
};

WsConnection::WsConnection(tcp::socket&& socket, ServerContext& context, std::string leftover,
                           ConnectionSlot slot)
    : socket_(std::move(socket)),
      context_(context),
      slot_(std::move(slot)),
      assembler_(context.options.max_message_size),
      partial_(std::move(leftover)) {
  context_.counters.websockets_open.fetch_add(1, std::memory_order_relaxed);
}

WsConnection::~WsConnection() {
  context_.websockets.remove(registry_id_);  // when finish() never ran
  context_.counters.websockets_open.fetch_sub(1, std::memory_order_relaxed);
}

bool WsConnection::enroll() {
  const auto added = context_.websockets.add(weak_from_this());
  registry_id_ = added.id;
  return added.draining;
}

void WsConnection::run(const std::string& target) {
  // The upgrade passed the HTTP connection's drain check just before the drain started: this
  // connection is not in the drain's list, so it is told to move now.
  if (enroll()) {
    reject(protocol::ErrorCode::draining);
    return;
  }
  error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) {
    finish();
    return;
  }
  auto self = shared_from_this();
  context_.ws.open(target, self, context_.new_connection_id(), [self](Admission admission) {
    asio::post(self->socket_.get_executor(),
               [self, a = std::move(admission)]() mutable { self->on_admitted(std::move(a)); });
  });
}

void WsConnection::refuse(protocol::ErrorCode code) {
  (void)enroll();  // refused anyway; registered so that a drain waits for its close
  reject(code);
}

void WsConnection::reject(protocol::ErrorCode code) {
  error_code ec;
  socket_.non_blocking(true, ec);
  Admission refusal;
  refusal.error = code;
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), a = std::move(refusal)]() mutable {
    self->on_admitted(std::move(a));
  });
}

void WsConnection::on_admitted(Admission admission) {
  if (finished_) {
    // The peer went away before the store answered: undo the join.
    if (admission.state) context_.ws.on_closed(*admission.state, Departure::lost);
    return;
  }
  if (!admission.state) {
    // Refused: one error message, then the close frame; nobody else hears of it.
    begin_close(static_cast<std::uint16_t>(protocol::close_code_for(admission.error)),
                domain::make_payload(protocol::error(admission.error, admission.message)));
  } else {
    state_ = std::move(admission.state);
    admitted_ = true;
    slot_.joined();  // a participant: no longer in the budget of connections not yet joined
    if (!partial_.empty() && !consume(nullptr, 0, true)) return;
  }
  do_wait();
}

void WsConnection::do_wait() {
  socket_.async_read_some(asio::buffer(head_),
                          beast::bind_front_handler(&WsConnection::on_readable, shared_from_this()));
}

void WsConnection::on_readable(error_code ec, std::size_t head_bytes) {
  if (finished_) return;
  if (ec) {
    finish();  // end of stream, reset: the participant is gone now
    return;
  }
  std::uint8_t* buffer = thread_read_buffer();
  std::memcpy(buffer, head_.data(), head_bytes);
  std::size_t filled = head_bytes;
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    const std::size_t n = socket_.read_some(asio::buffer(buffer + filled, kReadSize - filled), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      if (filled > 0 && !consume(buffer, filled, false)) return;
      finish();
      return;
    }
    filled += n;
    const bool drained = ec || filled < kReadSize;
    if (filled > 0 && !consume(buffer, filled, false)) return;
    filled = 0;
    if (drained) break;
  }
  do_wait();
}

// Hands every whole frame to the assembler; keeps an incomplete one in partial_. `owned`: the
// bytes are partial_ itself (after admission). Returns false when the connection ended.
bool WsConnection::consume(std::uint8_t* data, std::size_t size, bool owned) {
  FrameSink sink{*this};
  ws::MessageAssembler::Result result;
  if (!owned && partial_.empty()) {
    result = assembler_.feed(data, size, sink);
    if (result.failure == ws::Failure::none && result.consumed < size) {
      partial_.assign(reinterpret_cast<const char*>(data) + result.consumed, size - result.consumed);
    }
  } else {
    if (!owned) partial_.append(reinterpret_cast<const char*>(data), size);
    const std::size_t n = partial_.size();
    partial_.append(ws::MessageAssembler::kPadding, '\0');
    result = assembler_.feed(reinterpret_cast<std::uint8_t*>(partial_.data()), n, sink);
    partial_.resize(n);
    partial_.erase(0, result.consumed);
    if (partial_.empty()) partial_.shrink_to_fit();
  }
  if (result.failure != ws::Failure::none) {
    fail(result.failure);
    return !finished_;
  }
  return !finished_;
}

void WsConnection::on_message(ws::Opcode opcode, std::string_view payload) {
  if (!admitted_ || close_queued_ || departed_) return;
  context_.counters.messages_in.fetch_add(1, std::memory_order_relaxed);
  if (opcode == ws::Opcode::text) {
    context_.ws.on_text(*state_, *this, payload);
  } else {
    context_.ws.on_binary(*state_, *this);
  }
}

void WsConnection::on_control(ws::Opcode opcode, std::string_view payload) {
  if (opcode == ws::Opcode::ping) {
    if (!close_queued_) (void)enqueue(domain::make_payload(ws::frame(ws::Opcode::pong, payload)), true);
    return;
  }
  if (opcode != ws::Opcode::close) return;  // an unsolicited pong
  close_received_ = true;
  if (!close_queued_) peer_closed_first_ = true;
  if (close_queued_) {
    if (!writing_ && queue_.empty()) finish();  // our close went out: the handshake is complete
    return;
  }
  // A valid code is echoed; a forbidden code, half a code or a reason that is not UTF-8 is
  // answered with 1002 (RFC 6455 §7.4): the peer must not read its own bad frame back as agreed.
  begin_close(ws::parse_close_payload(payload).reply, nullptr);
}

void WsConnection::send(domain::Payload message) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), m = std::move(message)]() mutable {
    self->enqueue(std::move(m), false);
  });
}

void WsConnection::close(protocol::CloseCode code, domain::Payload last_message) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), code, m = std::move(last_message)]() mutable {
               self->begin_close(static_cast<std::uint16_t>(code), std::move(m));
             });
}

bool WsConnection::enqueue(domain::Payload message, bool framed, bool write_now) {
  if (finished_ || close_queued_) return false;
  if (queue_.bytes() + message->size() > context_.options.write_queue_limit) {
    context_.counters.slow_consumers.fetch_add(1, std::memory_order_relaxed);
    // The reader is too slow: drop what it has not taken and close, instead of growing memory.
    // It is gone for the others at once; the socket gets a moment for the close frame.
    queue_.truncate(inflight_);
    begin_close(static_cast<std::uint16_t>(protocol::CloseCode::slow_consumer), nullptr);
    depart();
    close_within(kSlowCloseTimeout);
    return false;
  }
  queue_.push(std::move(message), framed);
  if (write_now && !writing_) do_write();
  return true;
}

void WsConnection::do_write() {
  const std::size_t count = std::min(queue_.size(), kMaxBatch);
  auto batch = std::make_shared<Batch>();
  batch->headers.resize(count);
  batch->buffers.reserve(count * 2);
  std::size_t bytes = 0;
  std::size_t taken = 0;
  for (; taken < count && (taken == 0 || bytes < kMaxBatchBytes); ++taken) {
    const auto& item = queue_.at(taken);
    if (!item.framed) {
      const auto n = ws::write_header(batch->headers[taken].data(), ws::Opcode::text, item.data->size());
      batch->buffers.emplace_back(batch->headers[taken].data(), n);
    }
    batch->buffers.emplace_back(item.data->data(), item.data->size());
    bytes += item.data->size();
  }
  writing_ = true;
  inflight_ = taken;
  asio::async_write(socket_, batch->buffers,
                    [self = shared_from_this(), batch, taken](error_code ec, std::size_t n) {
                      self->on_write(taken, ec, n);
                    });
}

void WsConnection::on_write(std::size_t count, error_code ec, std::size_t /*bytes*/) {
  writing_ = false;
  inflight_ = 0;
  if (finished_) return;
  if (ec) {
    finish();
    return;
  }
  context_.counters.messages_out.fetch_add(count, std::memory_order_relaxed);
  queue_.pop(count);
  if (!queue_.empty()) {
    do_write();
    return;
  }
  if (close_queued_) {
    if (close_received_) {
      finish();
      return;
    }
    // Wait a little for the peer's close frame, reading on; then close anyway.
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    close_within(kCloseTimeout);
  }
}

void WsConnection::close_within(std::chrono::milliseconds grace) {
  if (close_timer_ || finished_) return;
  close_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor(), grace);
  close_timer_->async_wait([self = shared_from_this()](error_code timer_ec) {
    if (!timer_ec) self->finish();
  });
}

void WsConnection::begin_close(std::uint16_t code, domain::Payload last_message) {
  if (finished_ || close_queued_) return;
  if (last_message) queue_.push(std::move(last_message));
  queue_.push(domain::make_payload(ws::close_frame(code, protocol::close_reason(code))), true);
  close_queued_ = true;
  if (!writing_) do_write();
}

void WsConnection::fail(ws::Failure failure) {
  // The client broke the protocol (1002, 1007, 1009): a faulty client, not a network loss, so it
  // leaves at once instead of keeping its place for a resume.
  peer_faulted_ = true;
  begin_close(static_cast<std::uint16_t>(failure), nullptr);
}

void WsConnection::finish() {
  if (finished_) return;
  finished_ = true;
  context_.websockets.remove(registry_id_);
  registry_id_ = 0;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (close_timer_) close_timer_->cancel();
  queue_.clear();
  partial_.clear();
  partial_.shrink_to_fit();
  depart();
}

void WsConnection::depart() {
  if (departed_) return;
  departed_ = true;
  if (state_) {
    context_.ws.on_closed(*state_, peer_closed_first_ || peer_faulted_ ? Departure::clean : Departure::lost);
  }
}

}  // namespace sig::net
