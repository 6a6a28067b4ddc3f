#pragma once
// The network edge as configured: the connection budgets (from the flags or the open-file
// limit) and the listeners (the public one, and the admin one of --admin-listen).
#include <memory>

#include <boost/asio/io_context.hpp>

#include "app/config.hpp"
#include "net/connection_limits.hpp"
#include "net/listener.hpp"

namespace sig::app {

// The connection budgets: the flags, or derived from the open-file limit (logged either way).
net::ConnectionLimits connection_limits(const Config& config);

struct Listeners {
  std::shared_ptr<net::Listener> main;   // --listen/--port
  std::shared_ptr<net::Listener> admin;  // --admin-listen, or null
  void run() const;
  void stop() const;
};

// Binds the listeners; a failure (address in use, not an address of this host, a malformed
// --admin-listen) throws a message that names the option, not only the system call.
Listeners open_listeners(boost::asio::io_context& ioc, const Config& config, net::ServerContext& context);

}  // namespace sig::app
