#pragma once
// HS256 JSON Web Tokens minted by the load tool itself (OpenSSL HMAC), so the tool does not
// depend on the server's library.

#include <cstdint>
#include <string>
#include <string_view>

namespace load {

std::string base64url(std::string_view bytes);
// A compact JWS with header {"alg":"HS256","typ":"JWT"} and claims sub, name, exp.
std::string mint_hs256(std::string_view secret, std::string_view sub, std::string_view name,
                       std::int64_t exp_unix);

}  // namespace load
