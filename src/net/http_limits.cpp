#include "net/http_limits.hpp"

#include <exception>
#include <stdexcept>

#include "protocol/query.hpp"

namespace sig::net {

namespace {

constexpr std::string_view kSignalingPath = "/ws/signaling";

bool is_admin_only(std::string_view path) {
  return path.starts_with("/api/") || path == "/metrics";
}

bool is_endpoint(std::string_view path) {
  return is_admin_only(path) || path.starts_with("/dev/") || path == "/healthz" || path == "/readyz";
}

}  // namespace

Route route_for(std::string_view path, bool is_upgrade, ListenerRole role) noexcept {
  if (role == ListenerRole::admin_only) {
    if (is_upgrade || path.starts_with("/dev/") || !is_endpoint(path)) return Route::not_found;
    return path.starts_with("/api/") ? Route::admin_api : Route::handler;
  }
  if (path == kSignalingPath) return is_upgrade ? Route::websocket : Route::upgrade_required;
  if (is_upgrade) return Route::not_found;
  if (role == ListenerRole::public_only && is_admin_only(path)) return Route::not_found;
  if (path.starts_with("/api/")) return Route::admin_api;
  if (is_endpoint(path)) return Route::handler;
  return Route::static_or_handler;
}

std::size_t body_limit_for(Route route, const HttpLimits& limits) noexcept {
  return route == Route::admin_api ? limits.max_body_bytes : 0;
}

RequestReader::RequestReader(const HttpLimits& limits, ListenerRole role)
    : limits_(limits), role_(role), buffer_(limits.max_header_bytes) {
  reset();
}

void RequestReader::reset() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  // The largest body any route takes; narrowed per route when the head is known.
  parser_->body_limit(limits_.max_body_bytes);
  parser_->on_chunk_header(chunk_counter_);
  extension_bytes_ = 0;
  head_bytes_ = 0;
  head_fields_ = 0;
  wanted_more_at_ = 0;
  head_done_ = false;
  route_ = Route::not_found;
  error_ = protocol::ErrorCode::bad_request;
  error_text_ = {};
  // An idle keep-alive connection keeps no buffer.
  if (buffer_.size() == 0) buffer_.shrink_to_fit();
}

asio::mutable_buffer RequestReader::prepare() {
  return buffer_.prepare(buffer_.max_size() - buffer_.size());
}

void RequestReader::commit(std::size_t bytes) {
  buffer_.commit(bytes);
}

std::string_view RequestReader::leftover() const noexcept {
  const auto data = buffer_.cdata();
  return {static_cast<const char*>(data.data()), data.size()};
}

std::size_t RequestReader::field_bytes() const {
  std::size_t n = 0;
  for (const auto& f : parser_->get())
    n += f.name_string().size() + f.value().size() + 4;  // ": " and CRLF
  return n;
}

RequestReader::Status RequestReader::fail(protocol::ErrorCode code, std::string_view text) {
  error_ = code;
  error_text_ = text;
  return Status::failed;
}

RequestReader::Status RequestReader::parse() {
  for (;;) {
    if (parser_->is_done()) return finish();
    // Beast asserts that a final chunk it asked more bytes for ("0\r\n", 3 bytes) comes back with
    // at least 5 (its own reads always bring more). Reading byte by byte must not trip it in a
    // build with assertions (found by fuzz_http_request); 5 bytes complete nothing smaller.
    if (buffer_.size() < 5 && wanted_more_at_ != 0 && buffer_.size() < wanted_more_at_ + 2)
      return Status::need_more;
    wanted_more_at_ = 0;
    error_code ec;
    std::size_t used = 0;
    try {
      used = parser_->put(buffer_.data(), ec);
    } catch (const std::length_error&) {
      return fail(protocol::ErrorCode::header_too_large);  // a field too large for basic_fields
    } catch (const std::exception&) {
      return fail(protocol::ErrorCode::bad_request, "malformed HTTP request");
    }
    buffer_.consume(used);
    if (!head_done_) head_bytes_ += used;
    if (ec == http::error::need_more) {
      used = 0;  // an element is incomplete: read more (below)
      wanted_more_at_ = buffer_.size();
    } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return fail(protocol::ErrorCode::header_too_large);
    } else if (ec == http::error::body_limit) {
      return fail(protocol::ErrorCode::body_too_large);
    } else if (ec) {
      return fail(protocol::ErrorCode::bad_request, "malformed HTTP request");
    }
    if (!head_done_ && parser_->is_header_done()) return on_head();
    if (parser_->is_done()) return finish();
    if (used == 0) {
      // Nothing parsed: an element (head, chunk line, trailer) is still incomplete. It must fit
      // in the capped buffer.
      if (buffer_.size() >= buffer_.max_size()) return fail(protocol::ErrorCode::header_too_large);
      return Status::need_more;
    }
  }
}

RequestReader::Status RequestReader::finish() {
  // The trailer's fields joined the head's: head, extensions and trailer share one limit.
  const std::size_t trailer = field_bytes() - head_fields_;
  if (head_bytes_ + extension_bytes_ + trailer > limits_.max_header_bytes)
    return fail(protocol::ErrorCode::header_too_large);
  return Status::complete;
}

RequestReader::Status RequestReader::parse_eof() {
  // Beast asserts that the parser got something (found by fuzz_http_request).
  if (!parser_->got_some()) return fail(protocol::ErrorCode::bad_request, "the request ends early");
  error_code ec;
  try {
    parser_->put_eof(ec);
  } catch (const std::exception&) {
    return fail(protocol::ErrorCode::bad_request, "malformed HTTP request");
  }
  if (ec || !parser_->is_done()) return fail(protocol::ErrorCode::bad_request, "the request ends early");
  return finish();
}

RequestReader::Status RequestReader::on_head() {
  head_done_ = true;
  head_fields_ = field_bytes();
  auto& req = parser_->get();
  const auto target = protocol::split_target(std::string_view(req.target().data(), req.target().size()));
  route_ = route_for(target.path, websocket::is_upgrade(req), role_);
  const std::size_t limit = body_limit_for(route_, limits_);
  if (limit == 0) {
    // A route that takes no body: refuse one now, before reading it.
    const auto length = parser_->content_length();
    if (length && *length > 0) {
      return fail(protocol::ErrorCode::body_too_large, "this endpoint takes no request body");
    }
  }
  parser_->body_limit(limit);  // a chunked body then fails at its first non-empty chunk
  return Status::head_done;
}

}  // namespace sig::net
