#pragma once
// Connection budgets, so that no address and no crowd of unauthenticated sockets can take every
// descriptor: a total, a per-address one, and a smaller one for connections that have not joined a
// session yet (HTTP, handshake, admission). A connection holds a Slot from accept to close; the
// Slot follows the socket from HttpConnection to WsConnection and gives back its pending share
// when the participant joins. Thread-safe (one mutex, taken at accept, join and close only).
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace sig::net {

struct ConnectionLimits {
  std::size_t max_connections = 10'000;
  std::size_t max_per_ip = 1'000;
  std::size_t max_pending = 2'500;
};

enum class Refusal : std::uint8_t { none, max_connections, per_ip, pending };
inline constexpr std::size_t kRefusalKinds = 3;
std::string_view to_string(Refusal r) noexcept;  // the metrics label

// Default total: the soft RLIMIT_NOFILE minus headroom for the listeners, Redis links, files and
// logs (max(256, 5 %)); never below 16.
std::size_t default_max_connections(std::uint64_t nofile_soft_limit) noexcept;

class ConnectionLimiter;

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionSlot&& other) noexcept;
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot();

  // The participant joined: the connection no longer counts against the pending budget.
  void joined();
  // Counts the connection against `client` (the address a trusted proxy forwarded) instead of
  // the one it counts against now; on refusal nothing changes.
  Refusal attribute_to(const boost::asio::ip::address& client);
  bool held() const noexcept { return limiter_ != nullptr; }

 private:
  friend class ConnectionLimiter;
  void release() noexcept;

  std::shared_ptr<ConnectionLimiter> limiter_;
  boost::asio::ip::address ip_;
  bool counts_ip_ = false;
  bool pending_ = false;
};

class ConnectionLimiter : public std::enable_shared_from_this<ConnectionLimiter> {
 public:
  explicit ConnectionLimiter(ConnectionLimits limits) : limits_(limits) {}

  // A new connection from `ip`. `count_ip` false: the peer is a trusted proxy; the per-address
  // limit applies to the forwarded address once the request head is read (attribute_to).
  Refusal try_acquire(const boost::asio::ip::address& ip, bool count_ip, ConnectionSlot& slot);
  void count_refusal(Refusal r) noexcept;

  const ConnectionLimits& limits() const noexcept { return limits_; }
  std::size_t open() const;
  std::size_t pending() const;
  std::uint64_t refused(Refusal r) const noexcept;

 private:
  friend class ConnectionSlot;
  void release(const boost::asio::ip::address& ip, bool counts_ip, bool pending) noexcept;
  void release_pending() noexcept;
  Refusal move_ip(const boost::asio::ip::address& from, bool counted, const boost::asio::ip::address& to);

  ConnectionLimits limits_;
  mutable std::mutex mu_;
  std::size_t open_ = 0;                                              // guarded by mu_
  std::size_t pending_ = 0;                                           // guarded by mu_
  std::unordered_map<boost::asio::ip::address, std::size_t> per_ip_;  // guarded by mu_
  std::array<std::atomic<std::uint64_t>, kRefusalKinds> refused_{};
};

}  // namespace sig::net
