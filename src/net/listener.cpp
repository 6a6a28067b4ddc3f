#include "net/listener.hpp"

#include <atomic>
#include <string>

#include "common/log.hpp"
#include "net/http_connection.hpp"
#include "protocol/codes.hpp"

namespace sig::net {

namespace {

// Refused connections that still linger (read what the client sent, so that it gets the 503
// rather than a reset). Past this many, refused sockets are closed at once: a flood of
// refusals must not hold descriptors.
constexpr int kMaxLingering = 64;
constexpr std::chrono::milliseconds kRefusalLinger{500};
std::atomic<int> lingering{0};

const std::string& overloaded_answer() {
  static const std::string answer = [] {
    const auto body = protocol::http_error_body(protocol::ErrorCode::overloaded);
    return "HTTP/1.1 503 Service Unavailable\r\nServer: signaling-server\r\nContent-Type: "
           "application/json\r\n"
           "Retry-After: 5\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return answer;
}

struct Refused {
  explicit Refused(tcp::socket&& s) : socket(std::move(s)), timer(socket.get_executor()) {}
  ~Refused() { lingering.fetch_sub(1, std::memory_order_relaxed); }
  tcp::socket socket;
  asio::steady_timer timer;
  std::array<char, 1024> sink{};
};

void drain(const std::shared_ptr<Refused>& r) {
  r->socket.async_read_some(asio::buffer(r->sink), [r](error_code ec, std::size_t) {
    if (ec) {
      r->timer.cancel();
      return;
    }
    drain(r);
  });
}

// The 503 goes out at once, without waiting for a request (it fits in the socket's buffer).
void refuse_now(tcp::socket socket) {
  error_code ignored;
  socket.non_blocking(true, ignored);
  (void)socket.write_some(asio::buffer(overloaded_answer()), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  if (lingering.fetch_add(1, std::memory_order_relaxed) >= kMaxLingering) {
    lingering.fetch_sub(1, std::memory_order_relaxed);
    return;  // closed here
  }
  auto r = std::make_shared<Refused>(std::move(socket));
  r->timer.expires_after(kRefusalLinger);
  r->timer.async_wait([r](error_code) {
    error_code e;
    r->socket.close(e);
  });
  drain(r);
}

}  // namespace

Listener::Listener(asio::io_context& ioc, const tcp::endpoint& endpoint, ServerContext& context,
                   ListenerRole role)
    : ioc_(ioc), acceptor_(asio::make_strand(ioc)), context_(context), role_(role) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

unsigned short Listener::port() const {
  return acceptor_.local_endpoint().port();
}

void Listener::run() {
  do_accept();
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void Listener::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    context_.counters.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    admit(std::move(socket));
    do_accept();
    return;
  }
  // Out of file descriptors and the like: wait a little instead of spinning.
  log::warn("accept failed", {{"error", ec.message()}});
  auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(50));
  timer->async_wait([self = shared_from_this(), timer](error_code) { self->do_accept(); });
}

void Listener::admit(tcp::socket socket) {
  error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  const auto address = peer.address();
  ConnectionSlot slot;
  if (context_.limiter) {
    const bool proxy = context_.trusted_proxies.contains(address);
    const auto refusal = context_.limiter->try_acquire(address, !proxy, slot);
    if (refusal != Refusal::none) {
      context_.limiter->count_refusal(refusal);
      log::warn("connection refused", {{"client", address.to_string()}, {"reason", to_string(refusal)}});
      refuse_now(std::move(socket));
      return;
    }
  }
  if (log::enabled(log::Level::debug)) {
    log::debug("connection", {{"client", address.to_string()}, {"port", static_cast<unsigned>(peer.port())}});
  }
  std::make_shared<HttpConnection>(std::move(socket), context_, role_, std::move(slot))->run();
}

}  // namespace sig::net
