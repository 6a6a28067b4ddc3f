// Fuzz target: the request target of the upgrade (/ws/signaling?token=...&sessionId=...) and of
// the admin API, split into path and query and decoded, never crashes; and the pieces keep their
// promises: the raw query is what follows the first '?', decoding never grows the text, and any
// bytes percent-encoded then decoded come back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/query.hpp"

namespace {

std::string encode_all(std::string_view in) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : in) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[u >> 4U]);
    out.push_back(kHex[u & 0x0FU]);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using namespace sig::protocol;

  const Target target = split_target(input);
  const auto q = input.find('?');
  if (q == std::string_view::npos ? !target.query.empty() : target.query != input.substr(q + 1)) std::abort();
  if (target.path.size() > input.substr(0, q).size()) std::abort();

  if (const auto decoded = percent_decode(input)) {
    if (decoded->size() > input.size()) std::abort();
  }
  const auto round_trip = percent_decode(encode_all(input));
  if (!round_trip || *round_trip != input) std::abort();

  // The parameters the server reads, and one named by the input's first bytes.
  for (const std::string_view name : {"token", "sessionId", "userId"}) {
    if (const auto value = query_param(target.query, name)) {
      if (value->size() > target.query.size()) std::abort();
    }
  }
  const auto eq = input.find('=');
  if (eq != std::string_view::npos && input.find('&') > eq) {
    // "name=value..." as the whole query: its own first parameter is found.
    const auto name = input.substr(0, eq);
    const auto value = query_param(input, name);
    if (value.has_value() != percent_decode(input.substr(eq + 1, input.find('&') - eq - 1)).has_value()) {
      std::abort();
    }
  }
  return 0;
}
