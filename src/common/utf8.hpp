#pragma once
// UTF-8 validation (RFC 3629), pure: every string that comes from outside (a URL, a request body,
// a token's claims, a value read from Redis) is checked before it is used, logged or written into
// JSON, because nlohmann's dump() throws on invalid UTF-8 and a browser must never receive a text
// frame that is not UTF-8.
#include <string>
#include <string_view>

namespace sig::utf8 {

// True when `s` is well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF, no truncated sequence. The empty string is valid. NUL bytes are valid UTF-8;
// callers that must refuse control characters check them separately.
bool valid(std::string_view s) noexcept;

// The length (1..4) of the well-formed sequence that starts at s[i], 0 when there is none there
// (i < s.size()). For writers that keep the valid sequences and replace the rest.
std::size_t sequence_length(std::string_view s, std::size_t i) noexcept;

// `s` for a log line or an error message: its valid sequences as they are, every byte that is not
// part of one as `\xNN` (so the text is valid UTF-8 and says what the bytes were).
std::string printable(std::string_view s);

}  // namespace sig::utf8
