#pragma once
// TURN credentials of the TURN REST API (draft-uberti-behave-turn-rest-00), what coturn checks
// with `use-auth-secret` and `static-auth-secret`: the username is "<unix expiry>:<user id>" and
// the password is base64(HMAC-SHA1(secret, username)). coturn recomputes the password from the
// username with the shared secret, and refuses a username whose expiry has passed. Pure: no I/O,
// no clock (the caller gives the expiry).
#include <cstdint>
#include <string>
#include <string_view>

namespace sig::auth {

struct TurnCredential {
  std::string username;
  std::string credential;
};

// The username of the TURN REST API: "<expiry, unix seconds>:<user id>".
std::string turn_username(std::int64_t expiry_unix, std::string_view user_id);

// base64 (standard alphabet, padded) of HMAC-SHA1(secret, username).
std::string turn_password(std::string_view secret, std::string_view username);

TurnCredential turn_credential(std::string_view secret, std::int64_t expiry_unix, std::string_view user_id);

}  // namespace sig::auth
