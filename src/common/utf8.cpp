#include "common/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace sig::utf8 {

namespace {

bool continuation(unsigned char c) noexcept {
  return (c & 0xC0U) == 0x80U;
}

// The table of well-formed byte sequences (RFC 3629 section 4, the Unicode standard's table 3-7):
//   00..7F
//   C2..DF 80..BF
//   E0     A0..BF 80..BF      (E0 80..9F would be overlong)
//   E1..EC 80..BF 80..BF
//   ED     80..9F 80..BF      (ED A0..BF would be a surrogate)
//   EE..EF 80..BF 80..BF
//   F0     90..BF 80..BF 80..BF   (F0 80..8F would be overlong)
//   F1..F3 80..BF 80..BF 80..BF
//   F4     80..8F 80..BF 80..BF   (F4 90.. would be above U+10FFFF)
// C0, C1 and F5..FF never appear.
// The length of the well-formed sequence at p (1..4), or 0 when there is none there.
std::ptrdiff_t sequence_length(const unsigned char* p, const unsigned char* end) noexcept {
  const unsigned char c = *p;
  if (c < 0x80U) return 1;
  std::ptrdiff_t n = 0;
  unsigned char lo = 0x80U, hi = 0xBFU;  // the allowed range of the second byte
  if (c >= 0xC2U && c <= 0xDFU) {
    n = 2;
  } else if (c >= 0xE0U && c <= 0xEFU) {
    n = 3;
    if (c == 0xE0U) lo = 0xA0U;
    if (c == 0xEDU) hi = 0x9FU;
  } else if (c >= 0xF0U && c <= 0xF4U) {
    n = 4;
    if (c == 0xF0U) lo = 0x90U;
    if (c == 0xF4U) hi = 0x8FU;
  } else {
    return 0;  // a continuation byte first, C0, C1, or F5..FF
  }
  if (end - p < n || p[1] < lo || p[1] > hi) return 0;
  for (std::ptrdiff_t i = 2; i < n; ++i) {
    if (!continuation(p[i])) return 0;
  }
  return n;
}

}  // namespace

std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return static_cast<std::size_t>(sequence_length(p + i, p + s.size()));
}

bool valid(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p < end) {
    // ASCII fast path, eight bytes at a time: most of what we check (ids, JSON, SDP) is ASCII.
    if (end - p >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    const auto n = sequence_length(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p < end) {
    const auto n = sequence_length(p, end);
    if (n == 0) {
      out += "\\x";
      out.push_back(kHex[*p >> 4U]);
      out.push_back(kHex[*p & 0xFU]);
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    p += n;
  }
  return out;
}

}  // namespace sig::utf8
