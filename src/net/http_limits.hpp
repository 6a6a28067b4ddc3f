#pragma once
// The limits of the HTTP edge and the one request reader that enforces them, with no I/O: the
// connection reads bytes into it and asks it to parse; the fuzz target feeds it the same way.
//
// Beast's parser bounds the request head (header_limit) but not the trailer of a chunked body nor
// a chunk-extension line: it keeps whatever it has not parsed yet in the caller's buffer, and a
// trailer field of 64 KB or more makes basic_fields throw std::length_error. So the reader:
//  - parses from a flat buffer whose size is capped at the header limit: no unparsed element (the
//    head, one chunk line, the trailer block) can grow past it;
//  - counts header fields, chunk extensions and trailer fields together against that one limit;
//  - catches what the parser throws (a bad request for this connection, never for the process);
//  - sets the body limit per route once the head is known (only the admin API takes a body).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "net/beast.hpp"
#include "protocol/codes.hpp"

namespace sig::net {

struct HttpLimits {
  // Request line + header fields + chunk extensions + trailer fields, bytes. Browsers send a few
  // hundred bytes; 16 KB leaves room for large cookies and tokens and is what most proxies allow.
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  // Body of an admin API request (a session's directory entry is a few KB). Other routes: none.
  std::size_t max_body_bytes = std::size_t{1} << 20U;
  // From the first byte of a request to the end of its head.
  std::chrono::milliseconds head_timeout{10'000};
  // Waiting for the next request on a keep-alive connection (or the first one).
  std::chrono::milliseconds idle_timeout{10'000};
  // Receiving the body, handling the request and writing the answer.
  std::chrono::milliseconds body_timeout{30'000};
  // A keep-alive connection ends after this many requests or this long, whatever its pace.
  std::size_t max_requests = 100;
  std::chrono::milliseconds max_lifetime{60'000};
};

// Which listener a request arrived on: the admin API and /metrics can have their own.
enum class ListenerRole : std::uint8_t { combined, public_only, admin_only };

// What the connection does with a request, decided from the path, before the body is read.
enum class Route : std::uint8_t {
  websocket,         // an upgrade of the signaling path
  upgrade_required,  // the signaling path without an upgrade: 426
  not_found,         // 404 without reading a body
  admin_api,         // /api/...: the handler, with a body
  handler,           // health, readiness, metrics, /dev/: the handler, no body
  static_or_handler  // a static file if there is one, else the handler (404)
};

Route route_for(std::string_view path, bool is_upgrade, ListenerRole role) noexcept;
// Bytes of body a route accepts (0: a request with a body is refused with 413).
std::size_t body_limit_for(Route route, const HttpLimits& limits) noexcept;

class RequestReader {
 public:
  using Parser = http::request_parser<http::string_body>;

  enum class Status : std::uint8_t {
    need_more,  // read more bytes (prepare/commit), then parse again
    head_done,  // the head is complete and the route decided; call parse again for the body
    complete,   // request() is whole
    failed,     // error(): answer it and close
  };

  RequestReader(const HttpLimits& limits, ListenerRole role);
  RequestReader(const RequestReader&) = delete;  // the parser holds a reference to chunk_counter_
  RequestReader& operator=(const RequestReader&) = delete;

  // Starts the next request; bytes already read (pipelined) are kept.
  void reset();
  // Room for the next read (empty when the buffer is full: parse() then fails with 431).
  asio::mutable_buffer prepare();
  void commit(std::size_t bytes);
  // Drops every byte read (a closing connection drains what the peer still sends).
  void discard() { buffer_.consume(buffer_.size()); }
  Status parse();
  // The peer ended the stream (a body delimited by the end of the stream completes).
  Status parse_eof();

  Parser::value_type& request() { return parser_->get(); }
  Route route() const noexcept { return route_; }
  protocol::ErrorCode error() const noexcept { return error_; }
  std::string_view error_text() const noexcept { return error_text_; }
  bool started() const noexcept { return buffer_.size() > 0 || head_done_; }
  bool head_done() const noexcept { return head_done_; }
  // Bytes read beyond the request (e.g. the first WebSocket frame after an upgrade request).
  std::string_view leftover() const noexcept;

 private:
  // Chunk extensions mean nothing to us; they count against the header limit (a client could
  // otherwise send megabytes of them, one bounded line at a time).
  struct ChunkCounter {
    RequestReader* reader;
    template <class View>
    void operator()(std::uint64_t /*size*/, View extensions, error_code& ec) const {
      reader->extension_bytes_ += extensions.size();
      if (reader->head_bytes_ + reader->extension_bytes_ > reader->limits_.max_header_bytes)
        ec = http::error::header_limit;
    }
  };

  Status fail(protocol::ErrorCode code, std::string_view text = {});
  Status on_head();
  Status finish();
  std::size_t field_bytes() const;

  const HttpLimits& limits_;
  ListenerRole role_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::size_t extension_bytes_ = 0;  // chunk extensions of this request, so far
  std::size_t head_bytes_ = 0;       // the head as parsed
  std::size_t head_fields_ = 0;      // bytes of the head's fields (the trailer adds to them)
  std::size_t wanted_more_at_ = 0;   // buffer size when the parser last asked for more
  ChunkCounter chunk_counter_{this};
  Route route_ = Route::not_found;
  bool head_done_ = false;
  protocol::ErrorCode error_ = protocol::ErrorCode::bad_request;
  std::string_view error_text_;
};

}  // namespace sig::net
