// Errors, replies and scripts: the parts of the Redis client that hold no connection.
#include <signal.h>

#include <mutex>
#include <utility>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "redis/protocol.hpp"
#include "redis/tls_transport.hpp"
#include "redis/types.hpp"

namespace sig::redis {

// ---------------------------------------------------------------------------------------------
// Errors

namespace {

class RedisCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "ok";
      case Errc::not_connected: return "not connected to Redis";
      case Errc::connection_lost: return "connection to Redis lost";
      case Errc::closed: return "Redis client closed";
      case Errc::timeout: return "Redis timeout";
      case Errc::too_many_pending: return "too many pending Redis commands";
      case Errc::server_error: return "Redis error reply";
      case Errc::auth_failed: return "Redis AUTH failed";
      case Errc::handshake_failed: return "Redis connection handshake failed";
      case Errc::connect_failed: return "cannot connect to Redis";
      case Errc::invalid_url: return "invalid Redis URL";
      case Errc::invalid_argument: return "invalid Redis command";
      case Errc::cancelled: return "Redis subscription cancelled";
      case Errc::tls_config: return "unusable TLS configuration for Redis (CA, certificate or key file)";
      case Errc::tls_handshake_failed: return "TLS handshake with Redis failed";
    }
    return "unknown Redis error";
  }
};

}  // namespace

const std::error_category& redis_category() noexcept {
  static const RedisCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

// ---------------------------------------------------------------------------------------------
// Reply

namespace detail {

Reply convert_reply(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(r->element[i] != nullptr ? convert_reply(r->element[i]) : Reply{});
      }
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

bool is_forbidden_on_command_link(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kForbidden{
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor"};
  if (name.size() > 12) return false;
  std::array<char, 12> lower{};
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view l(lower.data(), name.size());
  return std::find(kForbidden.begin(), kForbidden.end(), l) != kForbidden.end();
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

}  // namespace detail

namespace {

void append_escaped(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4U]);
      out.push_back(kHex[u & 0x0FU]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void append_reply(std::string& out, const Reply& r) {
  switch (r.type) {
    case Reply::Type::nil: out += "(nil)"; break;
    case Reply::Type::integer: out += "(integer) " + std::to_string(r.integer); break;
    case Reply::Type::string: append_escaped(out, r.str); break;
    case Reply::Type::status: out += r.str; break;
    case Reply::Type::error: out += "(error) " + r.str; break;
    case Reply::Type::array:
      out.push_back('[');
      for (std::size_t i = 0; i < r.elements.size(); ++i) {
        if (i != 0) out += ", ";
        append_reply(out, r.elements[i]);
      }
      out.push_back(']');
      break;
  }
}

}  // namespace

std::string to_string(const Reply& reply) {
  std::string out;
  append_reply(out, reply);
  return out;
}

std::error_code check_tls_options(const TlsOptions& options, std::string* why) {
  detail::TlsSettings settings;
  std::string reason;
  // The name only matters once connected: any non-empty placeholder will do here.
  const auto ec = detail::make_tls_settings(options, "localhost", settings, reason);
  if (ec && why != nullptr) *why = std::move(reason);
  return ec;
}

// ---------------------------------------------------------------------------------------------
// Script

Script::Script(std::string source) {
  auto data = std::make_shared<detail::ScriptData>();
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(source.data(), source.size(), md.data(), &md_len, EVP_sha1(), nullptr) != 1) md_len = 0;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < md_len; ++i) {
    data->sha1.push_back(kHex[md[i] >> 4U]);
    data->sha1.push_back(kHex[md[i] & 0x0FU]);
  }
  data->source = std::move(source);
  data_ = std::move(data);
}

const std::string& Script::source() const noexcept {
  return data_->source;
}
const std::string& Script::sha1() const noexcept {
  return data_->sha1;
}

}  // namespace sig::redis
