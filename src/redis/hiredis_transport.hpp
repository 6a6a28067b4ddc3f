#pragma once
// Internal to src/redis: the redis:// transport, hiredis 0.14's async context driven by our Asio
// adapter (asio_adapter.hpp). See transport.hpp for the contract.

#include <cstdint>
#include <memory>
#include <string>

#include "redis/transport.hpp"
#include "redis/types.hpp"

namespace sig::redis::detail {

// Starts a non-blocking connect to ip:port (a numeric address: hiredis's own getaddrinfo then
// never blocks). Returns nullptr when hiredis refuses at once (logged at debug level).
std::shared_ptr<Transport> connect_hiredis(const Strand& strand, const std::string& ip, std::uint16_t port,
                                           TransportEvents& events, const std::string& log_name);

}  // namespace sig::redis::detail
