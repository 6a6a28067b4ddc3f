#pragma once
// One WebSocket connection after the opening handshake, on a plain TCP socket. An idle
// connection holds no buffer (16 bytes): it waits for data, then reads into its thread's buffer and
// hands whole messages up to the WsHandler; only an incomplete frame is kept, in its own
// buffer. What the domain sends goes through a bounded queue and leaves in gather writes of
// several frames. All its work runs on its own strand.
#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "domain/endpoint.hpp"
#include "net/beast.hpp"
#include "net/connection_limits.hpp"
#include "net/server_context.hpp"
#include "net/write_queue.hpp"
#include "net/ws_frame.hpp"
#include "net/ws_handler.hpp"

namespace sig::net {

class WsConnection final : public domain::Endpoint, public std::enable_shared_from_this<WsConnection> {
 public:
  // `leftover`: bytes the HTTP connection read after the upgrade request, if any.
  WsConnection(tcp::socket&& socket, ServerContext& context, std::string leftover, ConnectionSlot slot);
  ~WsConnection() override;

  // The 101 answer has been written: ask the handler to admit this connection (or refuse it with
  // `draining` when the drain started meanwhile).
  void run(const std::string& target);
  // The 101 has been written but the connection is refused (a limit reached after the upgrade
  // request was read): one error message, then the close frame with the error's close code.
  void refuse(protocol::ErrorCode code);

  void send(domain::Payload message) override;
  void close(protocol::CloseCode code, domain::Payload last_message) override;

 private:
  friend struct FrameSink;
  // Into context_.websockets; true when the drain has started.
  bool enroll();
  void reject(protocol::ErrorCode code);
  void on_admitted(Admission admission);
  void do_wait();
  void on_readable(error_code ec, std::size_t head_bytes);
  bool consume(std::uint8_t* data, std::size_t size, bool owned);
  void on_message(ws::Opcode opcode, std::string_view payload);
  void on_control(ws::Opcode opcode, std::string_view payload);
  void drain_inbox();
  // false: dropped (closing, or too slow). write_now: start a write if none is running.
  bool enqueue(domain::Payload message, bool framed, bool write_now = true);
  void do_write();
  void on_write(std::size_t count, error_code ec, std::size_t bytes);
  void begin_close(std::uint16_t code, domain::Payload last_message);
  void fail(ws::Failure failure);
  void close_within(std::chrono::milliseconds grace);
  void depart();
  void finish();

  tcp::socket socket_;
  ServerContext& context_;
  ConnectionSlot slot_;                     // the connection budgets (pending until admitted)
  ConnectionRegistry::Id registry_id_ = 0;  // in context_.websockets until the socket is closed
  ws::MessageAssembler assembler_;
  std::string partial_;  // an incomplete frame, kept between reads (padded)
  // The wait for data is a read of a few bytes: Asio performs a read speculatively and keeps the
  // socket registered, where a plain wait costs an epoll_ctl system call each time.
  std::array<std::uint8_t, 16> head_{};
  std::shared_ptr<ConnectionState> state_;
  WriteQueue queue_;
  // Messages sent from other strands wait here; only the first of a burst posts a drain, so a
  // busy connection does not pay an executor round trip per message.
  std::mutex inbox_mu_;
  std::vector<domain::Payload> inbox_;               // guarded by inbox_mu_
  bool drain_posted_ = false;                        // guarded by inbox_mu_
  std::unique_ptr<asio::steady_timer> close_timer_;  // only while closing
  bool writing_ = false;
  std::size_t inflight_ = 0;        // queued messages in the current gather write
  bool close_queued_ = false;       // our close frame is in the queue
  bool close_received_ = false;     // the peer's close frame arrived
  bool peer_closed_first_ = false;  // ... before ours was queued: the peer said goodbye (clean)
  bool peer_faulted_ = false;       // closed for a protocol error of the peer (clean too)
  bool departed_ = false;           // on_closed delivered: the participant is gone
  bool finished_ = false;           // socket closed
  bool admitted_ = false;
};

}  // namespace sig::net
