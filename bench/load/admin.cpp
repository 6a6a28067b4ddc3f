#include "admin.hpp"

#include <optional>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct AdminClient::Impl {
  Endpoint target;
  std::string key;
  asio::io_context ioc;
  std::optional<tcp::socket> sock;
  beast::flat_buffer buf;

  void connect() {
    tcp::resolver resolver(ioc);
    sock.emplace(ioc);
    asio::connect(*sock, resolver.resolve(target.host, std::to_string(target.port)));
    sock->set_option(tcp::no_delay(true));
    buf.clear();
  }
};

AdminClient::AdminClient(Endpoint target, std::string admin_key) : impl_(std::make_unique<Impl>()) {
  impl_->target = std::move(target);
  impl_->key = std::move(admin_key);
}
AdminClient::~AdminClient() = default;

int AdminClient::request(std::string_view method, const std::string& path, const std::string& body,
                         std::string* response_body) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!impl_->sock || !impl_->sock->is_open()) impl_->connect();
      http::request<http::string_body> req(http::string_to_verb(method), path, 11);
      req.set(http::field::host, impl_->target.str());
      req.set(http::field::authorization, "Bearer " + impl_->key);
      req.set(http::field::user_agent, "signaling-load");
      if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
      }
      req.keep_alive(true);
      req.prepare_payload();
      http::write(*impl_->sock, req);
      http::response<http::string_body> res;
      http::read(*impl_->sock, impl_->buf, res);
      if (response_body) *response_body = res.body();
      if (!res.keep_alive()) impl_->sock.reset();
      return static_cast<int>(res.result_int());
    } catch (const std::exception& e) {
      impl_->sock.reset();
      if (attempt == 1)
        throw std::runtime_error("admin API at " + impl_->target.str() + " unreachable: " + e.what());
    }
  }
  return 0;
}

}  // namespace load
