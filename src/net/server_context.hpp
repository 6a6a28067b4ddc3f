#pragma once
// What every connection of the network layer shares: handlers and limits.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/client_address.hpp"
#include "net/connection_limits.hpp"
#include "net/connection_registry.hpp"

#include "net/http_limits.hpp"

namespace sig::net {

class WsHandler;
class HttpHandler;
class StaticFiles;

struct NetOptions {
  std::size_t max_message_size = 65536;     // bytes of one WebSocket message
  std::size_t write_queue_limit = 1 << 20;  // bytes queued for one slow reader before it is dropped
  HttpLimits http;                          // request sizes, timeouts, keep-alive
};

struct NetCounters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::int64_t> websockets_open{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
  std::atomic<std::uint64_t> slow_consumers{0};
  std::atomic<std::uint64_t> http_requests{0};
};

struct ServerContext {
  ServerContext(WsHandler& ws_handler, HttpHandler& http_handler) : ws(ws_handler), http(http_handler) {}
  WsHandler& ws;
  HttpHandler& http;
  const StaticFiles* static_files = nullptr;  // may be null: no web root
  NetOptions options;
  std::string node_id;  // prefix of connection ids
  std::atomic<std::uint64_t> next_connection{1};
  NetCounters counters;
  std::shared_ptr<ConnectionLimiter> limiter;  // null: no connection limits
  TrustedProxies trusted_proxies;              // peers that may name the client (X-Forwarded-For)
  ConnectionRegistry websockets;               // open WebSocket connections; the drain flag

  std::string new_connection_id() {
    return node_id + ":" + std::to_string(next_connection.fetch_add(1, std::memory_order_relaxed));
  }
};

}  // namespace sig::net
