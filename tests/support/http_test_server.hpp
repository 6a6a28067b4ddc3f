#pragma once
// Test helper: a blocking HTTP/1.1 server (Beast) on a loopback port, one thread per connection,
// plain or TLS. `handler` answers each request; a reply with `hang` set is never answered (the
// connection ends when the client closes it), one with `close` drops the connection.
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace sig::test {

class HttpTestServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  struct Reply {
    unsigned status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool hang = false;
    bool close = false;
  };
  using Handler = std::function<Reply(const Request&)>;

  explicit HttpTestServer(Handler handler, boost::asio::ssl::context* tls = nullptr,
                          const char* address = "127.0.0.1")
      : handler_(std::move(handler)), tls_(tls), acceptor_(io_, {boost::asio::ip::make_address(address), 0}) {
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~HttpTestServer() {
    stopping_ = true;
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket poke(io_);  // wakes the blocked accept
    poke.connect(acceptor_.local_endpoint(), ec);
    accept_thread_.join();
    const std::lock_guard lock(mutex_);
    for (auto& t : threads_)
      t.join();
  }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  int requests() const { return requests_.load(); }

 private:
  void accept_loop() {
    while (true) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_ || ec) return;
      const std::lock_guard lock(mutex_);
      threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(boost::asio::ip::tcp::socket socket) {
    if (tls_ == nullptr) {
      handle(socket);
      return;
    }
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(std::move(socket), *tls_);
    boost::system::error_code ec;
    stream.handshake(boost::asio::ssl::stream_base::server, ec);
    if (!ec) handle(stream);
  }

  template <class Stream>
  void handle(Stream& stream) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    Request req;
    boost::system::error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    ++requests_;
    const Reply reply = handler_(req);
    if (reply.close) return;
    if (reply.hang) {
      http::read(stream, buffer, req, ec);  // until the client gives up and closes
      return;
    }
    http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
    for (const auto& [k, v] : reply.headers)
      res.set(k, v);
    res.body() = reply.body;
    res.prepare_payload();
    http::write(stream, res, ec);
  }

  Handler handler_;
  boost::asio::ssl::context* tls_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

}  // namespace sig::test
