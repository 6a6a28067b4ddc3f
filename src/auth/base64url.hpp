#pragma once
// base64url without padding (RFC 7515 2), the building blocks of the public base64url_encode /
// base64url_decode (declared in auth/jwt.hpp): the verifier decodes into its per-thread scratch
// buffers and the signer appends to the token it builds, neither allocating a string per part.
// Internal to the auth module.

#include <cstddef>
#include <string>
#include <string_view>

namespace sig::auth::detail {

// The number of bytes that n characters of unpadded base64url decode to.
constexpr std::size_t b64_decoded_size(std::size_t n) noexcept {
  return n / 4 * 3 + (n % 4 == 3 ? 2 : n % 4 == 2 ? 1 : 0);
}

// Decodes unpadded base64url into out (room for b64_decoded_size(in.size()) bytes). Rejects
// characters outside the alphabet (including '=' padding and whitespace), an impossible length
// and non-zero unused bits in the last character (so every byte string has one encoding).
bool b64url_decode_to(std::string_view in, char* out, std::size_t& out_len) noexcept;

// Appends the unpadded base64url encoding of the bytes to out.
void b64url_append(std::string& out, const unsigned char* p, std::size_t n);
void b64url_append(std::string& out, std::string_view bytes);

}  // namespace sig::auth::detail
