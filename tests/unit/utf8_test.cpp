// The UTF-8 validator against RFC 3629: exhaustively for every sequence of up to three bytes,
// and for every four-byte lead with every second byte, compared with a plain reference decoder.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/utf8.hpp"

using sig::utf8::valid;

namespace {

// Decodes exactly one code point from the whole of `s` the slow, obvious way: the length from the
// lead byte, continuation bytes, then the code point's value checked for overlong forms,
// surrogates and the U+10FFFF ceiling.
std::optional<std::uint32_t> reference_one(const std::string& s) {
  const auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])); };
  if (s.empty()) return std::nullopt;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (b(0) < 0x80) {
    n = 1;
    cp = b(0);
  } else if ((b(0) & 0xE0) == 0xC0) {
    n = 2;
    cp = b(0) & 0x1F;
  } else if ((b(0) & 0xF0) == 0xE0) {
    n = 3;
    cp = b(0) & 0x0F;
  } else if ((b(0) & 0xF8) == 0xF0) {
    n = 4;
    cp = b(0) & 0x07;
  } else {
    return std::nullopt;
  }
  if (s.size() != n) return std::nullopt;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return cp;
}

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (const auto c : list)
    s.push_back(static_cast<char>(c));
  return s;
}

}  // namespace

TEST(Utf8, AcceptsAsciiAndTheEmptyString) {
  EXPECT_TRUE(valid(""));
  EXPECT_TRUE(valid("hello, world"));
  EXPECT_TRUE(valid(std::string("a\0b", 3)));  // NUL is a code point like any other
  EXPECT_TRUE(valid(std::string(1000, 'x')));
}

TEST(Utf8, AcceptsEveryWellFormedBoundary) {
  EXPECT_TRUE(valid("\xC2\x80"));          // U+0080
  EXPECT_TRUE(valid("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(valid("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(valid("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid("\xEE\x80\x80"));      // U+E000, just above them
  EXPECT_TRUE(valid("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(valid("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(valid("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(valid("Zoë, 日本語, 🎉"));
}

TEST(Utf8, RefusesTheClassicAttacks) {
  EXPECT_FALSE(valid("\xFF"));
  EXPECT_FALSE(valid("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(valid("\xE0\x80\xAF"));      // overlong '/', three bytes
  EXPECT_FALSE(valid("\xF0\x80\x80\xAF"));  // overlong '/', four bytes
  EXPECT_FALSE(valid("\xC1\xBF"));          // overlong U+007F
  EXPECT_FALSE(valid("\xED\xA0\x80"));      // U+D800 (a surrogate, CESU-8)
  EXPECT_FALSE(valid("\xED\xBF\xBF"));      // U+DFFF
  EXPECT_FALSE(valid("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(valid("\xF5\x80\x80\x80"));
  EXPECT_FALSE(valid("\x80"));  // a lone continuation byte
  EXPECT_FALSE(valid("\xC3"));  // truncated
  EXPECT_FALSE(valid("\xE2\x82"));
  EXPECT_FALSE(valid("\xF0\x9F\x8E"));
  EXPECT_FALSE(valid("\xC3\x28"));  // a lead byte followed by ASCII
}

TEST(Utf8, FindsAnInvalidByteAtEveryPositionOfALongString) {
  // The eight-byte ASCII fast path must not skip over a bad byte whatever its alignment.
  for (std::size_t len = 1; len <= 40; ++len) {
    for (std::size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      s[at] = '\x80';
      EXPECT_FALSE(valid(s)) << len << " " << at;
      s[at] = 'b';
      EXPECT_TRUE(valid(s));
    }
  }
  std::string tail(17, 'a');
  tail += "\xE2\x82";  // a truncated sequence right after the fast path
  EXPECT_FALSE(valid(tail));
}

TEST(Utf8, AgreesWithTheReferenceOnEverySequenceOfUpToThreeBytes) {
  std::size_t accepted = 0;
  for (unsigned a = 0; a < 256; ++a) {
    const auto one = bytes({a});
    EXPECT_EQ(valid(one), reference_one(one).has_value()) << a;
    for (unsigned b = 0; b < 256; ++b) {
      const auto two = bytes({a, b});
      const bool ref2 = reference_one(two).has_value() || (a < 0x80 && b < 0x80);
      ASSERT_EQ(valid(two), ref2) << a << " " << b;
      if (a < 0xE0 || a > 0xEF) continue;  // the only leads for which a third byte matters alone
      for (unsigned c = 0; c < 256; ++c) {
        const auto three = bytes({a, b, c});
        const bool ok = reference_one(three).has_value();
        ASSERT_EQ(valid(three), ok) << a << " " << b << " " << c;
        accepted += ok ? 1 : 0;
      }
    }
  }
  // U+0800..U+FFFF minus the 2048 surrogates.
  EXPECT_EQ(accepted, 0x10000U - 0x800U - 0x800U);
}

TEST(Utf8, AgreesWithTheReferenceOnFourByteSequences) {
  std::size_t accepted = 0;
  for (unsigned a = 0xF0; a < 0x100; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      for (const unsigned c : {0x00U, 0x7FU, 0x80U, 0xBFU, 0xC0U}) {
        for (const unsigned d : {0x00U, 0x80U, 0xBFU, 0xC0U, 0xFFU}) {
          const auto four = bytes({a, b, c, d});
          const bool ok = reference_one(four).has_value();
          ASSERT_EQ(valid(four), ok) << a << " " << b << " " << c << " " << d;
          accepted += ok ? 1 : 0;
        }
      }
    }
  }
  // Leads F0..F4 with their allowed second bytes (48 + 3*64 + 16 = 256), third and fourth byte
  // each one of {80, BF}.
  EXPECT_EQ(accepted, 256U * 2 * 2);
}

TEST(Utf8, PrintableKeepsValidTextAndSpellsOutBadBytes) {
  EXPECT_EQ(sig::utf8::printable("Zoë"), "Zoë");
  EXPECT_EQ(sig::utf8::printable("a\xFF"
                                 "b"),
            "a\\xFFb");
  EXPECT_EQ(sig::utf8::printable("\xC0\xAF"), "\\xC0\\xAF");
  EXPECT_EQ(sig::utf8::printable("\xE2\x82"), "\\xE2\\x82");
  EXPECT_TRUE(valid(sig::utf8::printable("\xED\xA0\x80 \xF4\x90\x80\x80")));
}
