#include "http_client/client.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/log.hpp"
#include "http_client/url.hpp"

namespace sig::http_client {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

// The response head is small in practice (a JWKS server, a webhook receiver); this bounds it
// separately from the body so that a hostile endpoint cannot make us buffer headers forever.
constexpr std::uint32_t kMaxHeaderBytes = 64U * 1024U;

std::error_code to_std(const boost::system::error_code& ec) {
  return ec;
}

// asio's host_name_verification, recording a mismatch as X509_V_ERR_HOSTNAME_MISMATCH so that
// the handshake error says why (the same as the Redis TLS transport).
struct NameCheck {
  ssl::host_name_verification check;
  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    const bool ok = check(preverified, ctx);
    if (preverified && !ok) X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
    return ok;
  }
};

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

struct Client::Impl {
  asio::io_context& io;
  ssl::context tls{ssl::context::tls_client};
  explicit Impl(asio::io_context& context) : io(context) {}
};

namespace {

// One exchange: resolve, connect, (TLS handshake), write, read, on its own strand. Every step
// checks `finished_` first: the deadline may have answered already and closed the socket.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, ssl::context& tls, Url url, Request request, Client::Done done)
      : strand_(asio::make_strand(io)),
        resolver_(strand_),
        socket_(strand_),
        timer_(strand_),
        url_(std::move(url)),
        request_(std::move(request)),
        done_(std::move(done)) {
    if (url_.https) tls_stream_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, tls);
  }

  void start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->begin(); });
  }

 private:
  void begin() {
    try {
      // Beast throws on a header it cannot represent; nothing may escape a handler.
      build_request();
    } catch (const std::exception& e) {
      log::warn("http client: cannot build the request", {{"error", e.what()}});
      finish(std::make_error_code(std::errc::invalid_argument));
      return;
    }
    timer_.expires_after(request_.timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish(std::make_error_code(std::errc::timed_out));
    });
    resolver_.async_resolve(url_.host, url_.port,
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        const tcp::resolver::results_type& results) {
                              self->on_resolve(ec, results);
                            });
  }

  void build_request() {
    out_.method(request_.method == "POST" ? http::verb::post : http::string_to_verb(request_.method));
    out_.target(url_.target);
    out_.version(11);
    out_.set(http::field::host, url_.host_header());
    out_.set(http::field::user_agent, "signaling-server");
    out_.set(http::field::connection, "close");
    for (const auto& [name, value] : request_.headers)
      out_.set(name, value);
    out_.body() = std::move(request_.body);
    out_.prepare_payload();
  }

  void on_resolve(const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
    if (finished_) return;
    if (ec) return finish(to_std(ec));
    asio::async_connect(socket_, results,
                        [self = shared_from_this()](const boost::system::error_code& e,
                                                    const tcp::endpoint&) { self->on_connect(e); });
  }

  void on_connect(const boost::system::error_code& ec) {
    if (finished_) return;
    if (ec) return finish(to_std(ec));
    if (!tls_stream_) return write(socket_);
    SSL* handle = tls_stream_->native_handle();
    SSL_set_min_proto_version(handle, TLS1_2_VERSION);
    boost::system::error_code check;
    static_cast<void>(asio::ip::make_address(url_.host, check));
    // SNI carries host names only (RFC 6066), never an address.
    // (SSL_set_tlsext_host_name without its C cast.)
    if (check && SSL_ctrl(handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                          const_cast<char*>(url_.host.c_str())) != 1) {
      return finish(std::make_error_code(std::errc::invalid_argument));
    }
    boost::system::error_code e;
    tls_stream_->set_verify_mode(ssl::verify_peer, e);
    if (!e) tls_stream_->set_verify_callback(NameCheck{ssl::host_name_verification(url_.host)}, e);
    if (e) return finish(to_std(e));
    tls_stream_->async_handshake(ssl::stream_base::client,
                                 [self = shared_from_this()](const boost::system::error_code& he) {
                                   if (self->finished_) return;
                                   if (he) return self->finish(to_std(he));
                                   self->write(*self->tls_stream_);
                                 });
  }

  template <class Stream>
  void write(Stream& stream) {
    http::async_write(stream, out_,
                      [self = shared_from_this(), &stream](const boost::system::error_code& ec, std::size_t) {
                        if (self->finished_) return;
                        if (ec) return self->finish(to_std(ec));
                        self->read(stream);
                      });
  }

  template <class Stream>
  void read(Stream& stream) {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(request_.max_response_bytes);
    http::async_read(
        stream, buffer_, parser_,
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(const boost::system::error_code& ec) {
    if (finished_) return;
    if (ec == http::error::body_limit || ec == http::error::header_limit ||
        ec == http::error::buffer_overflow) {
      return finish(std::make_error_code(std::errc::message_size));
    }
    if (ec) return finish(to_std(ec));
    const auto& message = parser_.get();
    response_.status = message.result_int();
    for (const auto& field : message) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      response_.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    response_.body = message.body();
    finish({});
  }

  // The one place that answers: closes everything (pending operations then complete with
  // operation_aborted and return at their `finished_` check) and calls back exactly once.
  void finish(std::error_code ec) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    Client::Done done = std::move(done_);
    Response response = ec ? Response{} : std::move(response_);
    try {
      done(ec, std::move(response));
    } catch (const std::exception& e) {
      log::error("http client: the completion handler threw", {{"error", e.what()}});
    } catch (...) {
      log::error("http client: the completion handler threw");
    }
  }

  Strand strand_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_stream_;
  asio::steady_timer timer_;
  Url url_;
  Request request_;
  Client::Done done_;
  http::request<http::string_body> out_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  Response response_;
  bool finished_ = false;
};

}  // namespace

// NOLINTNEXTLINE(performance-unnecessary-value-param): the interface (client.hpp) takes it by value
Client::Client(asio::io_context& io, ClientOptions options) : impl_(std::make_shared<Impl>(io)) {
  SSL_CTX_set_min_proto_version(impl_->tls.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (options.tls_ca_file.empty()) {
    impl_->tls.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system trust store: " + ec.message());
  } else {
    impl_->tls.load_verify_file(options.tls_ca_file, ec);
    if (ec)
      throw std::runtime_error("no usable CA certificate in " + options.tls_ca_file + ": " + ec.message());
  }
}

Client::~Client() = default;

void Client::request(Request request, Done done) {
  try {
    std::string why;
    auto url = parse_url(request.url, &why);
    if (!url || (request.method != "GET" && request.method != "POST")) {
      // Still asynchronous, as every other answer: the caller's handler never runs inside request().
      asio::post(impl_->io, [done = std::move(done)] {
        try {
          done(std::make_error_code(std::errc::invalid_argument), Response{});
        } catch (...) {
          log::error("http client: the completion handler threw");
        }
      });
      return;
    }
    // The exchange keeps the Impl (and so the TLS context) alive until it has answered.
    auto exchange = std::make_shared<Exchange>(
        impl_->io, impl_->tls, std::move(*url), std::move(request),
        [impl = impl_, done = std::move(done)](std::error_code ec, Response r) { done(ec, std::move(r)); });
    exchange->start();
  } catch (const std::exception& e) {
    // Allocation failure or similar: report through the handler, never by throwing.
    log::error("http client: cannot start a request", {{"error", e.what()}});
    asio::post(impl_->io, [done = std::move(done)] {
      try {
        done(std::make_error_code(std::errc::not_enough_memory), Response{});
      } catch (...) {
      }
    });
  }
}

}  // namespace sig::http_client
