#pragma once
// Parsing of Redis connection URLs: redis://[[user]:password@]host[:port][/db]
// (and rediss:// for TLS).
// Pure functions, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sig::redis {

struct RedisUrl {
  std::string host;  // name or address; an IPv6 address is stored without its brackets
  std::uint16_t port = 6379;
  std::uint32_t db = 0;  // SELECT index; the path "/N"
  std::string username;  // empty: the default user (AUTH password)
  std::string password;  // empty: no AUTH
  bool tls = false;      // rediss://

  // The URL again, with the password replaced by "***" unless with_password is set (for logs).
  std::string to_string(bool with_password = false) const;
};

// Accepted forms (the scheme is case-insensitive; user and password are percent-decoded):
//   redis://host                     port 6379, db 0
//   redis://host:port/db
//   redis://:password@host:port      AUTH password
//   redis://password@host            AUTH password (no colon: taken as the password, the legacy form)
//   redis://user:password@host       AUTH user password (Redis 6 ACL)
//   redis://[::1]:6379/2             IPv6 literal in brackets
//   rediss://...                     same, with tls = true
// Returns nullopt on anything else (other scheme, empty host, bad port or db, query string,
// bad percent-escape) and, when error is given, stores a one-line reason in it.
std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string* error = nullptr);

}  // namespace sig::redis
