#include "app/listeners.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/log.hpp"

namespace sig::app {

namespace {

namespace asio = boost::asio;

// --admin-listen: "127.0.0.1:9091", "[::1]:9091".
net::tcp::endpoint parse_listen_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    throw std::runtime_error("--admin-listen: expected ADDR:PORT, got \"" + text + "\"");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("--admin-listen: \"" + host + "\" is not an IP address");
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    throw std::runtime_error("--admin-listen: bad port in \"" + text + "\"");
  }
  if (port > 65535) throw std::runtime_error("--admin-listen: port out of range in \"" + text + "\"");
  return {address, static_cast<unsigned short>(port)};
}

std::shared_ptr<net::Listener> open_listener(asio::io_context& ioc, const net::tcp::endpoint& endpoint,
                                             net::ServerContext& context, net::ListenerRole role,
                                             const std::string& options) {
  try {
    return std::make_shared<net::Listener>(ioc, endpoint, context, role);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(options + ": cannot listen: " + e.code().message());
  }
}

}  // namespace

net::ConnectionLimits connection_limits(const Config& config) {
  rlimit nofile{};
  std::uint64_t soft = 1024;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
    soft = nofile.rlim_cur == RLIM_INFINITY ? 10'000'000 : static_cast<std::uint64_t>(nofile.rlim_cur);
  net::ConnectionLimits limits;
  limits.max_connections =
      config.max_connections != 0 ? config.max_connections : net::default_max_connections(soft);
  limits.max_per_ip = config.max_connections_per_ip;
  limits.max_pending = config.max_pending_connections != 0
                           ? config.max_pending_connections
                           : std::max<std::size_t>(1, limits.max_connections / 4);
  log::info("connection limits", {{"max_connections", static_cast<std::uint64_t>(limits.max_connections)},
                                  {"computed", config.max_connections == 0},
                                  {"nofile_soft_limit", soft},
                                  {"max_per_ip", static_cast<std::uint64_t>(limits.max_per_ip)},
                                  {"max_pending", static_cast<std::uint64_t>(limits.max_pending)}});
  if (limits.max_connections + 64 > soft) {
    log::warn("--max-connections leaves little room under the open-file limit",
              {{"max_connections", static_cast<std::uint64_t>(limits.max_connections)},
               {"nofile_soft_limit", soft}});
  }
  return limits;
}

Listeners open_listeners(asio::io_context& ioc, const Config& config, net::ServerContext& context) {
  Listeners out;
  if (!config.admin_listen.empty()) {
    out.admin = open_listener(ioc, parse_listen_endpoint(config.admin_listen), context,
                              net::ListenerRole::admin_only, "--admin-listen " + config.admin_listen);
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(config.listen, ec);
  if (ec) throw std::runtime_error("--listen: \"" + config.listen + "\" is not an IP address");
  out.main = open_listener(ioc, net::tcp::endpoint(address, config.port), context,
                           out.admin ? net::ListenerRole::public_only : net::ListenerRole::combined,
                           "--listen " + config.listen + " --port " + std::to_string(config.port));
  return out;
}

void Listeners::run() const {
  main->run();
  if (admin) admin->run();
}

void Listeners::stop() const {
  main->stop();
  if (admin) admin->stop();
}

}  // namespace sig::app
