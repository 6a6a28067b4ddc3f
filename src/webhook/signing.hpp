#pragma once
// Standard Webhooks signatures (standardwebhooks.com, docs/webhooks.md): the secret is
// "whsec_" + base64 of the key; a delivery carries webhook-id, webhook-timestamp and
// webhook-signature = "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sig::webhook {

// Below this the key is refused (the spec recommends 24..64 bytes).
inline constexpr std::size_t kMinSecretBytes = 16;

// The key bytes of "whsec_<base64>", or nullopt and a reason (never the secret itself).
std::optional<std::string> parse_secret(std::string_view text, std::string* why = nullptr);

// "v1,<base64 signature>"; empty when OpenSSL fails (never sent unsigned).
std::string sign(std::string_view key, std::string_view id, std::int64_t timestamp, std::string_view body);

// "msg_" + 24 random base64url characters (18 bytes from the OS's generator).
std::string new_message_id();

// Standard base64 with padding (RFC 4648 section 4), as the signature and the secret use.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace sig::webhook
