#pragma once
// Accepts TCP connections and hands each to an HttpConnection on its own strand.
#include <memory>

#include "net/beast.hpp"
#include "net/http_limits.hpp"
#include "net/server_context.hpp"

namespace sig::net {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Throws at start-up when the address cannot be bound.
  Listener(asio::io_context& ioc, const tcp::endpoint& endpoint, ServerContext& context,
           ListenerRole role = ListenerRole::combined);
  void run();
  void stop();
  unsigned short port() const;

 private:
  void do_accept();
  void on_accept(error_code ec, tcp::socket socket);
  // Takes a connection slot (or refuses with 503 at once) and starts the HTTP connection.
  void admit(tcp::socket socket);

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  ServerContext& context_;
  ListenerRole role_;
};

}  // namespace sig::net
