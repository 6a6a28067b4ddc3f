#include "redis/tls_transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <utility>

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "common/log.hpp"

namespace sig::redis::detail {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

// Reads this many bytes per read; hiredis's own context reads 16 KiB per call too.
constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
// A write buffer grown beyond this by a burst is released after the write.
constexpr std::size_t kKeepWriteBuffer = 1U << 20U;

// asio's host_name_verification (DNS names and IP addresses against the certificate's
// subjectAltName), recording a mismatch as X509_V_ERR_HOSTNAME_MISMATCH so that the handshake
// error can say why.
struct NameCheck {
  ssl::host_name_verification check;
  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    const bool ok = check(preverified, ctx);
    if (preverified && !ok) X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
    return ok;
  }
};

// The context a plain connection's (unused) ssl::stream is built over: one per process.
std::shared_ptr<ssl::context> plain_context() {
  static const auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  return context;
}

class TlsTransport final : public Transport, public std::enable_shared_from_this<TlsTransport> {
 public:
  // tls == nullptr: plain TCP (the ssl::stream is then only a socket holder, never used for I/O).
  TlsTransport(const Strand& strand, const TlsSettings* tls, TransportEvents& events, std::string log_name)
      : context_(tls != nullptr ? tls->context : plain_context()),
        stream_(strand, *context_),
        server_name_(tls != nullptr ? tls->server_name : std::string()),
        verify_(tls != nullptr && tls->verify),
        plain_(tls == nullptr),
        events_(&events),
        name_(std::move(log_name)),
        reader_(redisReaderCreate()) {}
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;
  ~TlsTransport() override {
    if (reader_ != nullptr) redisReaderFree(reader_);
  }

  void start(const tcp::endpoint& endpoint) {
    endpoint_ = endpoint;
    if (reader_ == nullptr) {
      post_failure(Errc::connect_failed, "cannot allocate the reply reader");
      return;
    }
    if (plain_) {
      stream_.next_layer().async_connect(
          endpoint,
          [self = shared_from_this()](const boost::system::error_code& cec) { self->on_connect(cec); });
      return;
    }
    SSL* ssl_handle = stream_.native_handle();
    boost::system::error_code ec;
    static_cast<void>(asio::ip::make_address(server_name_, ec));
    // SNI carries host names only (RFC 6066), never an address.
    // (SSL_set_tlsext_host_name without its C cast.)
    if (ec && SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                       const_cast<char*>(server_name_.c_str())) != 1) {
      post_failure(Errc::tls_handshake_failed, "cannot set the TLS server name " + server_name_);
      return;
    }
    if (verify_) {
      stream_.set_verify_mode(ssl::verify_peer, ec);
      if (!ec) stream_.set_verify_callback(NameCheck{ssl::host_name_verification(server_name_)}, ec);
    } else {
      stream_.set_verify_mode(ssl::verify_none, ec);
    }
    if (ec) {
      post_failure(Errc::tls_handshake_failed, "cannot set up certificate verification: " + ec.message());
      return;
    }
    stream_.next_layer().async_connect(
        endpoint,
        [self = shared_from_this()](const boost::system::error_code& cec) { self->on_connect(cec); });
  }

  bool write(std::string_view resp, std::unique_ptr<Pending>& p) override {
    if (closed_) return false;
    out_.append(resp);
    waiting_.push_back(std::move(p));
    start_write();
    return true;
  }

  bool write_push(std::string_view resp) override {
    if (closed_) return false;
    out_.append(resp);
    start_write();
    return true;
  }

  void enable_keepalive() override {
    if (closed_) return;
    // As hiredis's redisEnableKeepAlive: idle 15 s, then 3 probes 5 s apart.
    const int fd = stream_.next_layer().native_handle();
    int on = 1;
    int idle = 15;
    int interval = 5;
    int count = 3;
    if (::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0 ||
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0 ||
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0 ||
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0) {
      log::debug("redis tcp keepalive not enabled",
                 {{"client", name_}, {"error", std::error_code(errno, std::generic_category()).message()}});
    }
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    TransportEvents* events = std::exchange(events_, nullptr);
    flush_waiting(*events);
    close_socket();
  }

 private:
  // --- connect and handshake ------------------------------------------------------------------

  void on_connect(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) {
      log::debug("redis connect failed",
                 {{"client", name_}, {"address", endpoint_string()}, {"error", ec.message()}});
      fail(Errc::connect_failed);
      return;
    }
    boost::system::error_code ignored;
    stream_.next_layer().set_option(tcp::no_delay(true), ignored);
    if (plain_) {
      on_handshake({});
      return;
    }
    stream_.async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this()](const boost::system::error_code& hec) { self->on_handshake(hec); });
  }

  void on_handshake(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) {
      log::warn("redis tls handshake failed", {{"client", name_},
                                               {"address", endpoint_string()},
                                               {"server_name", server_name_},
                                               {"error", describe_ssl_error(ec)}});
      fail(Errc::tls_handshake_failed);
      return;
    }
    handshaken_ = true;
    start_write();
    start_read();
  }

  // --- writes: one async_write in flight; what is queued meanwhile leaves in the next one ------

  void start_write() {
    if (!handshaken_ || writing_ || write_failed_ || out_.empty() || closed_) return;
    writing_ = true;
    in_flight_.swap(out_);
    auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t /*n*/) {
      self->on_written(ec);
    };
    if (plain_) {
      asio::async_write(stream_.next_layer(), asio::buffer(in_flight_), std::move(done));
    } else {
      asio::async_write(stream_, asio::buffer(in_flight_), std::move(done));
    }
  }

  void on_written(const boost::system::error_code& ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
      log::debug("redis tls write failed",
                 {{"client", name_}, {"address", endpoint_string()}, {"error", describe_ssl_error(ec)}});
      if (!got_reply_) {
        // Before the first reply, a server that refuses the session (TLS 1.3: after our side of
        // the handshake, e.g. "certificate required") sends an alert and resets the connection,
        // which can fail this write first: let the pending read report the reason.
        write_failed_ = true;
        return;
      }
      fail(Errc::connection_lost);
      return;
    }
    if (in_flight_.capacity() > kKeepWriteBuffer) {
      std::string().swap(in_flight_);
    } else {
      in_flight_.clear();
    }
    start_write();
  }

  // --- reads: a loop feeding hiredis's reader ---------------------------------------------------

  void start_read() {
    auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
      self->on_read(ec, n);
    };
    if (plain_) {
      stream_.next_layer().async_read_some(asio::buffer(read_buffer_), std::move(done));
    } else {
      stream_.async_read_some(asio::buffer(read_buffer_), std::move(done));
    }
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
      // With TLS 1.3 the client's side of the handshake completes before the server has checked
      // the client certificate: a refusal (e.g. "certificate required") arrives as the first read.
      const bool refused = !got_reply_ && ec.category() == asio::error::get_ssl_category();
      if (refused) {
        log::warn("redis tls session refused before the first reply",
                  {{"client", name_}, {"address", endpoint_string()}, {"error", describe_ssl_error(ec)}});
      } else {
        log::debug("redis tls read failed",
                   {{"client", name_}, {"address", endpoint_string()}, {"error", describe_ssl_error(ec)}});
      }
      fail(refused ? Errc::tls_handshake_failed : Errc::connection_lost);
      return;
    }
    if (redisReaderFeed(reader_, read_buffer_.data(), n) != REDIS_OK) {
      protocol_error();
      return;
    }
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
        protocol_error();
        return;
      }
      if (raw == nullptr) break;
      const std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                               &freeReplyObject);
      route(*reply);
      if (closed_) return;
    }
    start_read();
  }

  // As hiredis's async context: the oldest waiting write gets the reply; a reply nobody waits
  // for is a subscribe-mode push, or, when it is an error, the end of the connection (e.g.
  // "max number of clients reached").
  void route(const redisReply& r) {
    got_reply_ = true;
    if (!waiting_.empty()) {
      auto p = std::move(waiting_.front());
      waiting_.pop_front();
      events_->transport_reply(*this, &r, std::move(p));
    } else if (r.type == REDIS_REPLY_ERROR && !events_->push_errors()) {
      log::warn("redis error reply outside any command",
                {{"client", name_}, {"error", std::string_view(r.str, r.len)}});
      fail(Errc::connection_lost);
    } else {
      events_->transport_push(*this, &r);
    }
  }

  void protocol_error() {
    log::error("redis protocol error", {{"client", name_},
                                        {"address", endpoint_string()},
                                        {"error", static_cast<const char*>(reader_->errstr)}});
    fail(Errc::connection_lost);
  }

  // --- failure and teardown -----------------------------------------------------------------

  void fail(std::error_code why) {
    if (closed_) return;
    closed_ = true;
    TransportEvents* events = std::exchange(events_, nullptr);
    events->transport_gone(*this, why);
    flush_waiting(*events);
    close_socket();
  }

  // For failures found before any I/O started: reported from the strand, never inline.
  void post_failure(std::error_code why, const std::string& detail) {
    log::error("redis tls connection failed", {{"client", name_}, {"error", detail}});
    asio::post(stream_.get_executor(), [self = shared_from_this(), why] { self->fail(why); });
  }

  void flush_waiting(TransportEvents& events) {
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& p : waiting)
      events.transport_reply(*this, nullptr, std::move(p));
  }

  // Cancels the pending operations (their handlers then see closed_). No TLS close_notify:
  // Redis needs none, and the connection is being dropped anyway.
  void close_socket() {
    boost::system::error_code ignored;
    stream_.next_layer().close(ignored);
    out_.clear();
  }

  std::string endpoint_string() const {
    const auto address = endpoint_.address();
    return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
           std::to_string(endpoint_.port());
  }

  std::string describe_ssl_error(const boost::system::error_code& ec) {
    std::string text = ec.message();
    const long result = SSL_get_verify_result(stream_.native_handle());
    if (ec.category() == asio::error::get_ssl_category() && result != X509_V_OK) {
      text += std::string(" (") + X509_verify_cert_error_string(result) + ")";
    }
    return text;
  }

  std::shared_ptr<ssl::context> context_;  // before stream_, which uses it
  ssl::stream<tcp::socket> stream_;
  std::string server_name_;
  bool verify_;
  bool plain_;
  TransportEvents* events_;  // null once closed or gone
  std::string name_;
  redisReader* reader_;
  tcp::endpoint endpoint_;
  std::deque<std::unique_ptr<Pending>> waiting_;  // in write order
  std::string out_;                               // queued, not yet written
  std::string in_flight_;                         // being written
  std::array<char, kReadChunk> read_buffer_{};
  bool handshaken_ = false;
  bool writing_ = false;
  bool write_failed_ = false;  // before the first reply: the read reports the failure
  bool got_reply_ = false;
  bool closed_ = false;
};

bool readable(const std::string& path, std::string& why) {
  const std::ifstream in(path, std::ios::binary);
  if (in) return true;
  why = std::error_code(errno, std::generic_category()).message();
  return false;
}

}  // namespace

std::error_code make_tls_settings(const TlsOptions& options, const std::string& default_server_name,
                                  TlsSettings& out, std::string& why) {
  const std::error_code config_error = Errc::tls_config;
  if (options.cert_file.empty() != options.key_file.empty()) {
    why = "a client certificate needs both a certificate file and a key file";
    return config_error;
  }
  for (const auto& [what, path] : {std::pair<const char*, const std::string*>{"CA file", &options.ca_file},
                                   {"certificate file", &options.cert_file},
                                   {"key file", &options.key_file}}) {
    std::string reason;
    if (!path->empty() && !readable(*path, reason)) {
      why = std::string("cannot read the TLS ") + what + " " + *path + ": " + reason;
      return config_error;
    }
  }
  std::shared_ptr<ssl::context> context;
  try {
    context = std::make_shared<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception& e) {
    why = std::string("cannot create a TLS context: ") + e.what();
    return config_error;
  }
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (options.ca_file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) {
      why = "cannot load the system trust store: " + ec.message();
      return config_error;
    }
  } else {
    context->load_verify_file(options.ca_file, ec);
    if (ec) {
      why = "no usable CA certificate in " + options.ca_file + ": " + ec.message();
      return config_error;
    }
  }
  if (!options.cert_file.empty()) {
    context->use_certificate_chain_file(options.cert_file, ec);
    if (ec) {
      why = "no usable certificate in " + options.cert_file + ": " + ec.message();
      return config_error;
    }
    context->use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (ec) {
      why = "no usable private key in " + options.key_file + " (PEM, unencrypted): " + ec.message();
      return config_error;
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      why = "the private key " + options.key_file + " does not match the certificate " + options.cert_file;
      return config_error;
    }
  }
  out.context = std::move(context);
  out.server_name = options.server_name.empty() ? default_server_name : options.server_name;
  out.verify = !options.insecure_skip_verify;
  if (out.server_name.empty() && out.verify) {
    why = "no server name to verify the certificate against";
    return config_error;
  }
  return {};
}

std::shared_ptr<Transport> connect_tls(const Strand& strand, const TlsSettings& tls,
                                       const boost::asio::ip::tcp::endpoint& endpoint,
                                       TransportEvents& events, const std::string& log_name) {
  std::shared_ptr<TlsTransport> t;
  try {
    t = std::make_shared<TlsTransport>(strand, &tls, events, log_name);
  } catch (const std::exception& e) {  // SSL_new failed: out of memory
    log::error("redis tls session not created", {{"client", log_name}, {"error", e.what()}});
    return nullptr;
  }
  t->start(endpoint);
  return t;
}

std::shared_ptr<Transport> connect_plain(const Strand& strand, const boost::asio::ip::tcp::endpoint& endpoint,
                                         TransportEvents& events, const std::string& log_name) {
  std::shared_ptr<TlsTransport> t;
  try {
    t = std::make_shared<TlsTransport>(strand, nullptr, events, log_name);
  } catch (const std::exception& e) {  // out of memory
    log::error("redis connection not created", {{"client", log_name}, {"error", e.what()}});
    return nullptr;
  }
  t->start(endpoint);
  return t;
}

}  // namespace sig::redis::detail
