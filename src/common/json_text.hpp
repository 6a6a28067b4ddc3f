#pragma once
// Writing JSON text by hand on the hot path: the server builds its few message shapes directly
// into one string instead of going through a DOM.
#include <string>
#include <string_view>

namespace sig {

// Appends s as a quoted, escaped JSON string: every byte below 0x20 and 0x7f escaped. Bytes >= 0x80
// are copied as they are (the input is UTF-8 that came out of a JSON parser or a verified token).
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

}  // namespace sig
