// The outbound HTTP client (src/http_client) against a small Beast server run by the test on
// loopback: plain http, https with a throwaway PKI (tests/support/test_pki.hpp), the deadline of
// the whole exchange, and the response size bound.
#include "http_client/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "http_client/url.hpp"
#include "support/http_test_server.hpp"
#include "support/test_pki.hpp"

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using sig::http_client::Client;
using sig::http_client::ClientOptions;
using sig::http_client::Request;
using sig::http_client::Response;

// Routes: /ok (200, echoes the method, Host, User-Agent and body), /status/503, /big (2 MiB),
// /slow (never answers).
sig::test::HttpTestServer::Reply route(const sig::test::HttpTestServer::Request& req) {
  sig::test::HttpTestServer::Reply reply;
  const std::string target(req.target());
  if (target == "/slow") {
    reply.hang = true;
  } else if (target == "/status/503") {
    reply.status = 503;
    reply.body = "busy";
  } else if (target == "/big") {
    reply.body = std::string(std::size_t{2} << 20U, 'x');
  } else {
    reply.headers = {{"X-Got-Method", std::string(req.method_string())},
                     {"X-Got-Host", std::string(req[http::field::host])},
                     {"X-Got-Agent", std::string(req[http::field::user_agent])}};
    reply.body = "got:" + req.body();
  }
  return reply;
}

class TestServer : public sig::test::HttpTestServer {
 public:
  explicit TestServer(ssl::context* tls = nullptr, const char* address = "127.0.0.1")
      : HttpTestServer(route, tls, address) {}
};

struct Result {
  std::error_code ec;
  Response response;
  int calls = 0;
};

// Runs one request on a fresh io_context until everything is done, and counts the callbacks.
Result run(Client& client, asio::io_context& io, Request request) {
  Result result;
  client.request(std::move(request), [&](std::error_code ec, Response r) {
    result.ec = ec;
    result.response = std::move(r);
    ++result.calls;
  });
  io.run();
  io.restart();
  return result;
}

std::string url(unsigned short port, const std::string& path, const char* scheme = "http",
                const char* host = "127.0.0.1") {
  return std::string(scheme) + "://" + host + ":" + std::to_string(port) + path;
}

TEST(HttpUrl, ParsesAndRefuses) {
  auto u = sig::http_client::parse_url("HTTPS://example.com/a?b=1");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/a?b=1");
  EXPECT_EQ(u->host_header(), "example.com");
  u = sig::http_client::parse_url("http://[::1]:8080");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->host_header(), "[::1]:8080");
  for (const char* bad : {"ftp://x/", "http://", "http://u:p@host/", "http://host:0/", "http://host:99999/",
                          "http://host/a b", "http://host/#f", "http://host:x/", "http://ho\r\nst/"}) {
    EXPECT_FALSE(sig::http_client::parse_url(bad)) << bad;
  }
}

TEST(HttpClient, PostsOverHttpAndReturnsTheResponse) {
  TestServer server;
  asio::io_context io;
  Client client(io, ClientOptions{});
  Request req;
  req.method = "POST";
  req.url = url(server.port(), "/ok");
  req.headers = {{"content-type", "application/json"}};
  req.body = R"({"a":1})";
  const Result r = run(client, io, req);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.response.status, 200U);
  EXPECT_EQ(r.response.body, R"(got:{"a":1})");
  EXPECT_EQ(r.response.header("x-got-method"), "POST");
  EXPECT_EQ(r.response.header("x-got-host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(r.response.header("x-got-agent"), "signaling-server");
}

TEST(HttpClient, AnyStatusIsASuccessAtThisLevel) {
  TestServer server;
  asio::io_context io;
  Client client(io, ClientOptions{});
  Request req;
  req.url = url(server.port(), "/status/503");
  const Result r = run(client, io, req);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.response.status, 503U);
  EXPECT_EQ(r.response.body, "busy");
}

TEST(HttpClient, TheDeadlineBoundsTheWholeExchange) {
  TestServer server;
  asio::io_context io;
  Client client(io, ClientOptions{});
  Request req;
  req.url = url(server.port(), "/slow");
  req.timeout = std::chrono::milliseconds(200);
  const Result r = run(client, io, req);
  EXPECT_EQ(r.ec, std::make_error_code(std::errc::timed_out));
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(server.requests(), 1);  // the request was sent: the timeout hit while reading
}

TEST(HttpClient, ATooLargeResponseIsAnError) {
  TestServer server;
  asio::io_context io;
  Client client(io, ClientOptions{});
  Request req;
  req.url = url(server.port(), "/big");
  req.max_response_bytes = std::size_t{1} << 20U;
  Result r = run(client, io, req);
  EXPECT_EQ(r.ec, std::make_error_code(std::errc::message_size));
  EXPECT_EQ(r.calls, 1);
  req.max_response_bytes = std::size_t{4} << 20U;  // the same route fits a larger bound
  r = run(client, io, req);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.response.body.size(), std::size_t{2} << 20U);
}

TEST(HttpClient, ARefusedConnectionAndABadUrlAreErrorsNotExceptions) {
  unsigned short closed_port = 0;
  {
    TestServer server;
    closed_port = server.port();
  }
  asio::io_context io;
  Client client(io, ClientOptions{});
  Request req;
  req.url = url(closed_port, "/ok");
  Result r = run(client, io, req);
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(r.calls, 1);
  req.url = "gopher://x/";
  r = run(client, io, req);
  EXPECT_EQ(r.ec, std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(r.calls, 1);
}

class HttpsClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (sig::test::TestPki::available()) pki_ = std::make_unique<sig::test::TestPki>();
  }
  static void TearDownTestSuite() { pki_.reset(); }
  void SetUp() override {
    if (!pki_) GTEST_SKIP() << "no openssl CLI";
  }
  static std::unique_ptr<ssl::context> server_context(bool untrusted) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain_file(untrusted ? pki_->other_server_cert() : pki_->server_cert());
    ctx->use_private_key_file(untrusted ? pki_->other_server_key() : pki_->server_key(), ssl::context::pem);
    return ctx;
  }
  static std::unique_ptr<sig::test::TestPki> pki_;
};
std::unique_ptr<sig::test::TestPki> HttpsClient::pki_;

TEST_F(HttpsClient, VerifiesTheChainAndTheName) {
  auto tls = server_context(false);
  TestServer server(tls.get());
  asio::io_context io;
  Client client(io, ClientOptions{pki_->ca_cert()});
  Request req;
  for (const char* host : {"127.0.0.1", "localhost"}) {
    req.url = url(server.port(), "/ok", "https", host);
    const Result r = run(client, io, req);
    ASSERT_FALSE(r.ec) << host << ": " << r.ec.message();
    EXPECT_EQ(r.response.status, 200U);
  }
}

TEST_F(HttpsClient, RefusesACertificateForAnotherName) {
  // A trusted certificate, but for 127.0.0.1 and localhost: reached as 127.0.0.2 it must fail.
  auto tls = server_context(false);
  TestServer server(tls.get(), "127.0.0.2");
  asio::io_context io;
  Client client(io, ClientOptions{pki_->ca_cert()});
  Request req;
  req.url = url(server.port(), "/ok", "https", "127.0.0.2");
  const Result r = run(client, io, req);
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(server.requests(), 0);  // nothing was sent
}

TEST_F(HttpsClient, RefusesAnUntrustedCertificate) {
  auto tls = server_context(true);
  TestServer server(tls.get());
  asio::io_context io;
  Client client(io, ClientOptions{pki_->ca_cert()});
  Request req;
  req.url = url(server.port(), "/ok", "https");
  const Result r = run(client, io, req);
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(HttpsClient, ABadCaFileThrowsAtConstruction) {
  asio::io_context io;
  EXPECT_THROW(Client(io, ClientOptions{pki_->file("missing.crt")}), std::runtime_error);
}

}  // namespace
