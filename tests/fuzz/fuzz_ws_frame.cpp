// Feeds arbitrary bytes to the WebSocket frame assembler, whole and in two pieces; it must never
// crash, and whatever it consumes must be whole frames. Every close payload (the input itself,
// and each close frame the assembler finds) goes through parse_close_payload, whose answer must
// be consistent: 1000 for nothing, the code itself when valid, 1002 otherwise.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "net/ws_frame.hpp"

namespace {

void check_close(std::string_view payload) {
  namespace ws = sig::net::ws;
  const auto c = ws::parse_close_payload(payload);
  if (payload.empty()) {
    if (!c.valid || c.reply != 1000) __builtin_trap();
  } else if (c.valid) {
    if (payload.size() < 2 || c.reply != c.code || !ws::close_code_allowed(c.code)) __builtin_trap();
  } else if (c.reply != 1002) {
    __builtin_trap();
  }
}

struct Sink {
  std::size_t bytes = 0;
  void on_message(sig::net::ws::Opcode, std::string_view p) { bytes += p.size(); }
  void on_control(sig::net::ws::Opcode op, std::string_view p) {
    bytes += p.size();
    if (op == sig::net::ws::Opcode::close) check_close(p);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kPad = sig::net::ws::MessageAssembler::kPadding;
  check_close(std::string_view(reinterpret_cast<const char*>(data), size < 125 ? size : 125));
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
