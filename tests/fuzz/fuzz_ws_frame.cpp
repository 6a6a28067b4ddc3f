// Feeds arbitrary bytes to the WebSocket frame assembler, whole and in two pieces; it must never
// crash, and whatever it consumes must be whole frames.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "net/ws_frame.hpp"

namespace {
struct Sink {
  std::size_t bytes = 0;
  void on_message(sig::net::ws::Opcode, std::string_view p) { bytes += p.size(); }
  void on_control(sig::net::ws::Opcode, std::string_view p) { bytes += p.size(); }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kPad = sig::net::ws::MessageAssembler::kPadding;
  std::string copy(reinterpret_cast<const char*>(data), size);
  copy.append(kPad, '\0');
  sig::net::ws::MessageAssembler whole(4096);
  Sink sink;
  const auto r = whole.feed(reinterpret_cast<std::uint8_t*>(copy.data()), size, sink);
  if (r.consumed > size) __builtin_trap();

  // The same bytes in two reads, the way a connection keeps an incomplete frame.
  std::string again(reinterpret_cast<const char*>(data), size);
  sig::net::ws::MessageAssembler split(4096);
  const std::size_t cut = size / 2;
  std::string first = again.substr(0, cut);
  first.append(kPad, '\0');
  const auto r1 = split.feed(reinterpret_cast<std::uint8_t*>(first.data()), cut, sink);
  if (r1.failure == sig::net::ws::Failure::none) {
    std::string rest = again.substr(r1.consumed);
    const std::size_t n = rest.size();
    rest.append(kPad, '\0');
    (void)split.feed(reinterpret_cast<std::uint8_t*>(rest.data()), n, sink);
  }
  return 0;
}
