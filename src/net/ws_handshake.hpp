#pragma once
// The server side of the WebSocket opening handshake (RFC 6455 4.2), pure.
#include <string>
#include <string_view>

namespace sig::net::ws {

// The key is 16 random bytes in base64: 22 base64 characters and "==".
bool valid_key(std::string_view key);
// Sec-WebSocket-Accept: base64(SHA-1(key + the RFC's GUID)).
std::string accept_key(std::string_view key);

}  // namespace sig::net::ws
