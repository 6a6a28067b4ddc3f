// base64url without padding, as JWS uses it (see auth/base64url.hpp).

#include "auth/base64url.hpp"

#include <array>
#include <cstdint>
#include <optional>

#include "auth/jwt.hpp"  // the public base64url_encode / base64url_decode

namespace sig::auth {

namespace detail {

namespace {

constexpr char kB64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kB64Invalid = 0x80;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table)
    v = kB64Invalid;
  for (std::uint8_t i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kB64Alphabet[i])] = i;
  return table;
}
constexpr std::array<std::uint8_t, 256> kB64Decode = make_decode_table();

}  // namespace

bool b64url_decode_to(std::string_view in, char* out, std::size_t& out_len) noexcept {
  const std::size_t n = in.size();
  if (n % 4 == 1) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t full = n - n % 4;
  char* o = out;
  for (std::size_t i = 0; i < full; i += 4) {
    const std::uint32_t a = kB64Decode[p[i]], b = kB64Decode[p[i + 1]], c = kB64Decode[p[i + 2]],
                        d = kB64Decode[p[i + 3]];
    if (((a | b | c | d) & kB64Invalid) != 0) return false;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<char>(static_cast<unsigned char>(v >> 16));
    o[1] = static_cast<char>(static_cast<unsigned char>(v >> 8));
    o[2] = static_cast<char>(static_cast<unsigned char>(v));
    o += 3;
  }
  const std::size_t rem = n - full;
  if (rem >= 2) {
    const std::uint32_t a = kB64Decode[p[full]], b = kB64Decode[p[full + 1]];
    const std::uint32_t c = rem == 3 ? kB64Decode[p[full + 2]] : 0;
    if (((a | b | c) & kB64Invalid) != 0) return false;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6);
    if (rem == 2) {
      if ((b & 0x0F) != 0) return false;
      *o++ = static_cast<char>(static_cast<unsigned char>(v >> 16));
    } else {
      if ((c & 0x03) != 0) return false;
      *o++ = static_cast<char>(static_cast<unsigned char>(v >> 16));
      *o++ = static_cast<char>(static_cast<unsigned char>(v >> 8));
    }
  }
  out_len = static_cast<std::size_t>(o - out);
  return true;
}

void b64url_append(std::string& out, const unsigned char* p, std::size_t n) {
  const std::size_t start = out.size();
  out.resize(start + (n * 4 + 2) / 3);
  char* o = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    *o++ = kB64Alphabet[(v >> 18) & 63];
    *o++ = kB64Alphabet[(v >> 12) & 63];
    *o++ = kB64Alphabet[(v >> 6) & 63];
    *o++ = kB64Alphabet[v & 63];
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16;
    *o++ = kB64Alphabet[(v >> 18) & 63];
    *o++ = kB64Alphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    *o++ = kB64Alphabet[(v >> 18) & 63];
    *o++ = kB64Alphabet[(v >> 12) & 63];
    *o++ = kB64Alphabet[(v >> 6) & 63];
  }
}

void b64url_append(std::string& out, std::string_view bytes) {
  b64url_append(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

}  // namespace detail

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  detail::b64url_append(out, bytes);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out(detail::b64_decoded_size(text.size()), '\0');
  std::size_t len = 0;
  if (!detail::b64url_decode_to(text, out.data(), len)) return std::nullopt;
  out.resize(len);
  return out;
}

}  // namespace sig::auth
