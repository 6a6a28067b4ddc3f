#include "net/ws_frame.hpp"

#include <cstring>

#include "common/utf8.hpp"

namespace sig::net::ws {

HeaderStatus parse_header(const std::uint8_t* data, std::size_t size, FrameHeader& out) {
  if (size < 2) return HeaderStatus::incomplete;
  const std::uint8_t b0 = data[0];
  const std::uint8_t b1 = data[1];
  if ((b0 & 0x70U) != 0) return HeaderStatus::protocol_error;  // RSV1-3: no extension was negotiated
  const auto op = static_cast<std::uint8_t>(b0 & 0x0FU);
  if ((op > 2 && op < 8) || op > 10) return HeaderStatus::protocol_error;
  out.fin = (b0 & 0x80U) != 0;
  out.opcode = static_cast<Opcode>(op);
  out.masked = (b1 & 0x80U) != 0;
  std::uint64_t length = b1 & 0x7FU;
  std::size_t at = 2;
  if (length == 126) {
    if (size < at + 2) return HeaderStatus::incomplete;
    length = (static_cast<std::uint64_t>(data[2]) << 8U) | data[3];
    if (length < 126) return HeaderStatus::protocol_error;
    at += 2;
  } else if (length == 127) {
    if (size < at + 8) return HeaderStatus::incomplete;
    length = 0;
    for (std::size_t i = 0; i < 8; ++i)
      length = (length << 8U) | data[at + i];
    if (length < 65536 || (length >> 63U) != 0) return HeaderStatus::protocol_error;
    at += 8;
  }
  if (op >= 8 && (!out.fin || length > 125)) return HeaderStatus::protocol_error;
  if (out.masked) {
    if (size < at + 4) return HeaderStatus::incomplete;
    std::memcpy(out.mask.data(), data + at, 4);
    at += 4;
  } else {
    out.mask = {};
  }
  out.payload_length = length;
  out.header_length = at;
  return HeaderStatus::ok;
}

void unmask(std::uint8_t* data, std::size_t size, const std::array<std::uint8_t, 4>& mask,
            std::size_t offset) {
  std::array<std::uint8_t, 8> rotated{};
  for (std::size_t i = 0; i < 8; ++i)
    rotated[i] = mask[(i + offset) % 4];
  std::uint64_t m8 = 0;
  std::memcpy(&m8, rotated.data(), 8);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, data + i, 8);
    v ^= m8;
    std::memcpy(data + i, &v, 8);
  }
  for (; i < size; ++i)
    data[i] = static_cast<std::uint8_t>(data[i] ^ rotated[i % 8]);
}

std::size_t write_header(std::uint8_t* out, Opcode opcode, std::uint64_t length) {
  out[0] = static_cast<std::uint8_t>(0x80U | static_cast<std::uint8_t>(opcode));
  if (length < 126) {
    out[1] = static_cast<std::uint8_t>(length);
    return 2;
  }
  if (length < 65536) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(length >> 8U);
    out[3] = static_cast<std::uint8_t>(length & 0xFFU);
    return 4;
  }
  out[1] = 127;
  for (std::size_t i = 0; i < 8; ++i)
    out[2 + i] = static_cast<std::uint8_t>((length >> (56U - 8U * i)) & 0xFFU);
  return 10;
}

std::string frame(Opcode opcode, std::string_view payload) {
  std::array<std::uint8_t, kMaxHeaderLength> header{};
  const auto n = write_header(header.data(), opcode, payload.size());
  std::string out(reinterpret_cast<const char*>(header.data()), n);
  out.append(payload);
  return out;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8U));
  payload.push_back(static_cast<char>(code & 0xFFU));
  payload.append(reason.substr(0, 123));
  return frame(Opcode::close, payload);
}

bool close_code_allowed(std::uint16_t code) noexcept {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

CloseCheck parse_close_payload(std::string_view payload) {
  constexpr std::uint16_t kProtocolError = static_cast<std::uint16_t>(Failure::protocol_error);
  CloseCheck check;
  if (payload.empty()) return check;  // no status: answered with 1000
  if (payload.size() == 1) {
    check.valid = false;  // half a status code
  } else {
    check.code =
        static_cast<std::uint16_t>((static_cast<unsigned>(static_cast<unsigned char>(payload[0])) << 8U) |
                                   static_cast<unsigned char>(payload[1]));
    check.valid = close_code_allowed(check.code) && utf8::valid(payload.substr(2));
  }
  check.reply = check.valid ? check.code : kProtocolError;
  return check;
}

}  // namespace sig::net::ws
