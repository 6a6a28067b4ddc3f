#pragma once
// RFC 6455 framing for the server side, as a pure module (no I/O): parsing client frames,
// unmasking, reassembling fragmented messages, and writing unmasked server frame headers.
// No extensions are negotiated, so RSV bits must be zero.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sig::net::ws {

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

struct FrameHeader {
  bool fin = false;
  Opcode opcode = Opcode::continuation;
  bool masked = false;
  std::uint64_t payload_length = 0;
  std::array<std::uint8_t, 4> mask{};
  std::size_t header_length = 0;
};

enum class HeaderStatus { incomplete, ok, protocol_error };

// Reads one frame header from the start of `data`. protocol_error: RSV bits set, an unknown
// opcode, a control frame that is fragmented or longer than 125 bytes, a non-minimal or
// oversized 64-bit length.
HeaderStatus parse_header(const std::uint8_t* data, std::size_t size, FrameHeader& out);

// XORs `data` with the mask, starting at mask position `offset` (mod 4).
void unmask(std::uint8_t* data, std::size_t size, const std::array<std::uint8_t, 4>& mask,
            std::size_t offset = 0);

constexpr std::size_t kMaxHeaderLength = 10;  // a server frame: no mask
// Writes a final, unmasked frame header for a payload of `length` bytes; returns its size.
std::size_t write_header(std::uint8_t* out, Opcode opcode, std::uint64_t length);

// A whole server frame (header and payload), for control frames and tests.
std::string frame(Opcode opcode, std::string_view payload);
// A close frame with a status code and a reason (cut to fit the 125-byte control frame limit).
std::string close_frame(std::uint16_t code, std::string_view reason);

// A close frame from the client (RFC 6455 §5.5.1, §7.4): what it says and how to answer it.
struct CloseCheck {
  bool valid = true;       // false: a one-byte payload, a code §7.4 forbids, or a reason not UTF-8
  std::uint16_t code = 0;  // the code received; 0 when the payload is empty (no status)
  // The code to close with: the client's own code when valid (echoed), 1000 for an empty
  // payload, 1002 (protocol error) otherwise.
  std::uint16_t reply = 1000;
};
CloseCheck parse_close_payload(std::string_view payload);

// True for the codes a peer may send (§7.4.1, §7.4.2, and the IANA registry): 1000-1003,
// 1007-1014, 3000-4999. 1004 is reserved, 1005, 1006 and 1015 must never be on the wire,
// 1016-2999 are unassigned (reserved for the protocol), and nothing from 5000 on is defined.
bool close_code_allowed(std::uint16_t code) noexcept;

// What went wrong, as the close code the connection fails with.
enum class Failure : std::uint16_t { none = 0, protocol_error = 1002, too_big = 1009 };

// Reassembles client messages from frames. feed() consumes every complete frame at the start of
// `data` (unmasking it in place) and calls the sink for each complete message or control frame:
//   sink.on_message(Opcode text|binary, std::string_view payload)
//   sink.on_control(Opcode close|ping|pong, std::string_view payload)
// A message that fits in one frame is passed as a view into `data`; a fragmented one is
// gathered in the assembler's own buffer. Either way at least kPadding readable bytes follow the
// view when the caller's buffer has them after `size` (the assembler keeps its own padded).
class MessageAssembler {
 public:
  static constexpr std::size_t kPadding = 64;

  explicit MessageAssembler(std::size_t max_message) : max_message_(max_message) {}

  struct Result {
    std::size_t consumed = 0;  // bytes of whole frames handled; the rest is an incomplete frame
    Failure failure = Failure::none;
  };

  template <class Sink>
  Result feed(std::uint8_t* data, std::size_t size, Sink& sink);

  bool fragmented() const noexcept { return in_message_; }

 private:
  std::size_t max_message_;
  bool in_message_ = false;  // inside a fragmented message
  Opcode message_opcode_ = Opcode::text;
  std::string fragments_;
};

template <class Sink>
MessageAssembler::Result MessageAssembler::feed(std::uint8_t* data, std::size_t size, Sink& sink) {
  Result r;
  while (r.consumed < size) {
    FrameHeader h;
    const auto status = parse_header(data + r.consumed, size - r.consumed, h);
    if (status == HeaderStatus::incomplete) {
      // An oversized frame is refused as soon as its header is known, before it is buffered.
      return r;
    }
    if (status == HeaderStatus::protocol_error || !h.masked) {
      r.failure = Failure::protocol_error;
      return r;
    }
    const bool control = static_cast<std::uint8_t>(h.opcode) >= 8;
    if (!control) {
      const std::uint64_t so_far = in_message_ ? fragments_.size() : 0;
      if (h.payload_length > max_message_ || so_far + h.payload_length > max_message_) {
        r.failure = Failure::too_big;
        return r;
      }
      if ((h.opcode == Opcode::continuation) != in_message_) {
        r.failure =
            Failure::protocol_error;  // a continuation with nothing to continue, or a new message inside one
        return r;
      }
    }
    const std::size_t available = size - r.consumed - h.header_length;
    if (h.payload_length > available) return r;  // wait for the rest of the frame
    const auto length = static_cast<std::size_t>(h.payload_length);
    std::uint8_t* payload = data + r.consumed + h.header_length;
    unmask(payload, length, h.mask);
    r.consumed += h.header_length + length;
    const std::string_view view(reinterpret_cast<const char*>(payload), length);

    if (control) {
      sink.on_control(h.opcode, view);
    } else if (h.fin && !in_message_) {
      sink.on_message(h.opcode, view);
    } else {
      if (!in_message_) {
        in_message_ = true;
        message_opcode_ = h.opcode;
        fragments_.clear();
      }
      fragments_.append(view);
      if (h.fin) {
        in_message_ = false;
        const std::size_t n = fragments_.size();
        fragments_.append(kPadding, '\0');
        sink.on_message(message_opcode_, std::string_view(fragments_.data(), n));
        fragments_.clear();
        fragments_.shrink_to_fit();
      }
    }
  }
  return r;
}

}  // namespace sig::net::ws
