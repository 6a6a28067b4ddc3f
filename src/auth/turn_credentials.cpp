#include "auth/turn_credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

namespace sig::auth {

std::string turn_username(std::int64_t expiry_unix, std::string_view user_id) {
  std::string out = std::to_string(expiry_unix);
  out.push_back(':');
  out.append(user_id);
  return out;
}

std::string turn_password(std::string_view secret, std::string_view username) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  // HMAC() with an empty key gets a null key pointer from an empty string_view: OpenSSL treats
  // (nullptr, 0) as an empty key, which is what HMAC defines.
  const auto* ok = HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
                        reinterpret_cast<const unsigned char*>(username.data()),  // NOLINT: byte view
                        username.size(), mac.data(), &mac_len);
  if (ok == nullptr) throw std::runtime_error("HMAC-SHA1 failed");
  // 20 bytes of SHA-1 give 28 characters of padded base64, plus EVP_EncodeBlock's NUL.
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> text{};
  const int n = EVP_EncodeBlock(text.data(), mac.data(), static_cast<int>(mac_len));
  return {reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(n)};  // NOLINT: bytes
}

TurnCredential turn_credential(std::string_view secret, std::int64_t expiry_unix, std::string_view user_id) {
  TurnCredential c;
  c.username = turn_username(expiry_unix, user_id);
  c.credential = turn_password(secret, c.username);
  return c;
}

}  // namespace sig::auth
