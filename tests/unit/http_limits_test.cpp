// The request reader: limits on the head, chunk extensions and trailer together, the body per
// route, and the routing decision per listener.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "net/http_limits.hpp"

using namespace sig::net;
using sig::protocol::ErrorCode;
using Status = RequestReader::Status;

namespace {

// Feeds `bytes` in pieces of `piece`; returns the final status.
Status feed(RequestReader& r, std::string_view bytes, std::size_t piece = 1 << 20) {
  Status s = Status::need_more;
  while (true) {
    s = r.parse();
    while (s == Status::head_done)
      s = r.parse();
    if (s != Status::need_more || bytes.empty()) return s;
    auto buf = r.prepare();
    const auto n = std::min({buf.size(), bytes.size(), piece});
    if (n == 0) return r.parse();
    std::memcpy(buf.data(), bytes.data(), n);
    r.commit(n);
    bytes.remove_prefix(n);
  }
}

const std::string kChunkedHead = "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST(HttpLimits, Routes) {
  EXPECT_EQ(route_for("/ws/signaling", true, ListenerRole::combined), Route::websocket);
  EXPECT_EQ(route_for("/ws/signaling", false, ListenerRole::combined), Route::upgrade_required);
  EXPECT_EQ(route_for("/other", true, ListenerRole::combined), Route::not_found);
  EXPECT_EQ(route_for("/api/sessions/x", false, ListenerRole::combined), Route::admin_api);
  EXPECT_EQ(route_for("/metrics", false, ListenerRole::combined), Route::handler);
  EXPECT_EQ(route_for("/", false, ListenerRole::combined), Route::static_or_handler);
  EXPECT_EQ(route_for("/api/sessions/x", false, ListenerRole::public_only), Route::not_found);
  EXPECT_EQ(route_for("/metrics", false, ListenerRole::public_only), Route::not_found);
  EXPECT_EQ(route_for("/healthz", false, ListenerRole::public_only), Route::handler);
  EXPECT_EQ(route_for("/api/sessions/x", false, ListenerRole::admin_only), Route::admin_api);
  EXPECT_EQ(route_for("/readyz", false, ListenerRole::admin_only), Route::handler);
  EXPECT_EQ(route_for("/ws/signaling", true, ListenerRole::admin_only), Route::not_found);
  EXPECT_EQ(route_for("/dev/token", false, ListenerRole::admin_only), Route::not_found);
  EXPECT_EQ(route_for("/index.html", false, ListenerRole::admin_only), Route::not_found);
}

TEST(HttpLimits, ASimpleRequestAndAPipelinedOne) {
  HttpLimits limits;
  RequestReader r(limits, ListenerRole::combined);
  const std::string two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(feed(r, two), Status::complete);  // both arrive in one read
  EXPECT_EQ(r.request().target(), "/healthz");
  r.reset();
  ASSERT_EQ(feed(r, ""), Status::complete);
  EXPECT_EQ(r.request().target(), "/readyz");
  EXPECT_TRUE(r.leftover().empty());
  r.reset();
  ASSERT_EQ(feed(r, "GET /byte/by/byte HTTP/1.1\r\nHost: x\r\n\r\n", 1), Status::complete);
  EXPECT_EQ(r.request().target(), "/byte/by/byte");
}

TEST(HttpLimits, TheTrailerFieldThatThrewIsA431) {
  HttpLimits limits;
  RequestReader r(limits, ListenerRole::combined);
  const std::string req = kChunkedHead + "0\r\nX: " + std::string(65'534, 'v') + "\r\n\r\n";
  EXPECT_EQ(feed(r, req), Status::failed);
  EXPECT_EQ(r.error(), ErrorCode::header_too_large);
}

TEST(HttpLimits, AnEndlessChunkExtensionIsA431) {
  HttpLimits limits;
  RequestReader r(limits, ListenerRole::combined);
  EXPECT_EQ(feed(r, kChunkedHead + "1;" + std::string(100'000, 'e'), 4096), Status::failed);
  EXPECT_EQ(r.error(), ErrorCode::header_too_large);
}

TEST(HttpLimits, HeadExtensionsAndTrailerShareOneLimit) {
  HttpLimits limits;
  limits.max_header_bytes = 2048;
  {
    RequestReader r(limits, ListenerRole::combined);
    const auto head =
        "PUT /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-A: " + std::string(1000, 'a') +
        "\r\n\r\n";
    EXPECT_EQ(feed(r, head + "1;" + std::string(600, 'e') + "\r\nx\r\n0\r\nX-B: " + std::string(600, 'b') +
                          "\r\n\r\n"),
              Status::failed);
    EXPECT_EQ(r.error(), ErrorCode::header_too_large);
  }
  {
    RequestReader r(limits, ListenerRole::combined);
    const auto head = "PUT /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    EXPECT_EQ(feed(r, std::string(head) + "1;e=f\r\nx\r\n0\r\nX-B: b\r\n\r\n"), Status::complete);
    EXPECT_EQ(r.request().body(), "x");
  }
}

TEST(HttpLimits, BodiesPerRoute) {
  HttpLimits limits;
  limits.max_body_bytes = 10;
  {
    RequestReader r(limits, ListenerRole::combined);
    EXPECT_EQ(feed(r, "POST /healthz HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"), Status::failed);
    EXPECT_EQ(r.error(), ErrorCode::body_too_large);
  }
  {
    RequestReader r(limits, ListenerRole::combined);
    EXPECT_EQ(feed(r, kChunkedHead + "1\r\nx\r\n0\r\n\r\n"), Status::failed);
    EXPECT_EQ(r.error(), ErrorCode::body_too_large);
  }
  {
    RequestReader r(limits, ListenerRole::combined);
    EXPECT_EQ(feed(r, kChunkedHead + "0\r\n\r\n"), Status::complete);  // an empty body is no body
  }
  {
    RequestReader r(limits, ListenerRole::combined);
    EXPECT_EQ(feed(r, "PUT /api/x HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890"), Status::failed);
    EXPECT_EQ(r.error(), ErrorCode::body_too_large);
  }
  {
    RequestReader r(limits, ListenerRole::combined);
    EXPECT_EQ(feed(r, "PUT /api/x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"), Status::complete);
    EXPECT_EQ(r.route(), Route::admin_api);
  }
}

TEST(HttpLimits, GarbageIsA400AndTheBufferStaysCapped) {
  HttpLimits limits;
  RequestReader r(limits, ListenerRole::combined);
  EXPECT_EQ(feed(r, "GARBAGE\r\n\r\n"), Status::failed);
  EXPECT_EQ(r.error(), ErrorCode::bad_request);
  RequestReader big(limits, ListenerRole::combined);
  EXPECT_EQ(feed(big, "GET / HTTP/1.1\r\nX: " + std::string(100'000, 'v'), 1000), Status::failed);
  EXPECT_EQ(big.error(), ErrorCode::header_too_large);
  EXPECT_LE(big.leftover().size(), limits.max_header_bytes);
}
