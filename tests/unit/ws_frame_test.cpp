// RFC 6455 server-side framing: header parsing, unmasking, reassembly, limits, handshake.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "net/write_queue.hpp"
#include "net/ws_frame.hpp"
#include "net/ws_handshake.hpp"

using namespace sig::net;
using ws::Opcode;

namespace {

// A client frame: masked with a fixed key.
std::string client_frame(Opcode op, std::string_view payload, bool fin = true, std::uint8_t rsv = 0) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | static_cast<int>(op)));
  const std::array<std::uint8_t, 4> mask{0x12, 0x34, 0x56, 0x78};
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() < 65536) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xFF));
  }
  out.append(reinterpret_cast<const char*>(mask.data()), 4);
  std::string body(payload);
  ws::unmask(reinterpret_cast<std::uint8_t*>(body.data()), body.size(), mask);  // masking is the same XOR
  return out + body;
}

struct Recorder {
  std::vector<std::pair<Opcode, std::string>> messages, controls;
  void on_message(Opcode op, std::string_view p) { messages.emplace_back(op, std::string(p)); }
  void on_control(Opcode op, std::string_view p) { controls.emplace_back(op, std::string(p)); }
};

ws::MessageAssembler::Result feed(ws::MessageAssembler& a, std::string bytes, Recorder& r) {
  bytes.append(ws::MessageAssembler::kPadding, '\0');
  return a.feed(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size() - ws::MessageAssembler::kPadding,
                r);
}

}  // namespace

TEST(WsFrame, ParsesAMaskedTextFrame) {
  ws::MessageAssembler a(1024);
  Recorder r;
  const auto f = client_frame(Opcode::text, "hello");
  const auto res = feed(a, f, r);
  EXPECT_EQ(res.failure, ws::Failure::none);
  EXPECT_EQ(res.consumed, f.size());
  ASSERT_EQ(r.messages.size(), 1U);
  EXPECT_EQ(r.messages[0], std::make_pair(Opcode::text, std::string("hello")));
}

TEST(WsFrame, SixteenAndSixtyFourBitLengths) {
  ws::MessageAssembler a(1 << 20);
  Recorder r;
  const std::string medium(300, 'm'), large(70000, 'L');
  feed(a, client_frame(Opcode::text, medium) + client_frame(Opcode::binary, large), r);
  ASSERT_EQ(r.messages.size(), 2U);
  EXPECT_EQ(r.messages[0].second, medium);
  EXPECT_EQ(r.messages[1], std::make_pair(Opcode::binary, large));
}

TEST(WsFrame, IncompleteFramesWaitForMoreBytes) {
  ws::MessageAssembler a(1024);
  Recorder r;
  const auto f = client_frame(Opcode::text, "split me");
  for (std::size_t cut = 0; cut < f.size(); ++cut) {
    const auto res = feed(a, f.substr(0, cut), r);
    EXPECT_EQ(res.consumed, 0U) << cut;
    EXPECT_EQ(res.failure, ws::Failure::none);
  }
  EXPECT_TRUE(r.messages.empty());
}

TEST(WsFrame, ReassemblesFragmentsWithControlFramesBetween) {
  ws::MessageAssembler a(1024);
  Recorder r;
  const auto bytes = client_frame(Opcode::text, "one ", false) + client_frame(Opcode::ping, "p") +
                     client_frame(Opcode::continuation, "two ", false) +
                     client_frame(Opcode::continuation, "three");
  const auto res = feed(a, bytes, r);
  EXPECT_EQ(res.consumed, bytes.size());
  ASSERT_EQ(r.messages.size(), 1U);
  EXPECT_EQ(r.messages[0].second, "one two three");
  ASSERT_EQ(r.controls.size(), 1U);
  EXPECT_EQ(r.controls[0], std::make_pair(Opcode::ping, std::string("p")));
  EXPECT_FALSE(a.fragmented());
}

TEST(WsFrame, ProtocolErrors) {
  const std::vector<std::string> bad = {
      "\x81\x05hello",                                    // unmasked client frame
      client_frame(Opcode::text, "x", true, 0x40),        // RSV1 without an extension
      client_frame(static_cast<Opcode>(3), "x"),          // reserved opcode
      client_frame(Opcode::ping, "x", false),             // fragmented control frame
      client_frame(Opcode::ping, std::string(126, 'x')),  // control frame over 125 bytes
      client_frame(Opcode::continuation, "x"),            // nothing to continue
      client_frame(Opcode::text, "a", false) + client_frame(Opcode::text, "b"),  // new message inside one
  };
  for (const auto& b : bad) {
    ws::MessageAssembler a(1024);
    Recorder r;
    EXPECT_EQ(feed(a, b, r).failure, ws::Failure::protocol_error) << b.size();
    EXPECT_TRUE(r.messages.empty());
  }
}

TEST(WsFrame, NonMinimalLengthsAreRefused) {
  std::string f = "\x81\xFE";  // 16-bit length for a 5-byte payload
  f += std::string("\x00\x05", 2) + "\x01\x02\x03\x04" + "abcde";
  ws::MessageAssembler a(1024);
  Recorder r;
  EXPECT_EQ(feed(a, f, r).failure, ws::Failure::protocol_error);
}

TEST(WsFrame, TooBigIsRefusedFromTheHeaderAlone) {
  ws::MessageAssembler a(100);
  Recorder r;
  const auto f = client_frame(Opcode::text, std::string(101, 'x'));
  EXPECT_EQ(feed(a, f.substr(0, 8), r).failure, ws::Failure::too_big) << "no need to buffer it first";
  ws::MessageAssembler b(100);
  EXPECT_EQ(feed(b,
                 client_frame(Opcode::text, std::string(60, 'x'), false) +
                     client_frame(Opcode::continuation, std::string(60, 'y')),
                 r)
                .failure,
            ws::Failure::too_big)
      << "fragments add up";
}

TEST(WsFrame, ServerHeadersAndCloseFrames) {
  std::array<std::uint8_t, ws::kMaxHeaderLength> h{};
  EXPECT_EQ(ws::write_header(h.data(), Opcode::text, 125), 2U);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 125);
  EXPECT_EQ(ws::write_header(h.data(), Opcode::text, 126), 4U);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(ws::write_header(h.data(), Opcode::binary, 65536), 10U);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ(h[7], 1);
  const auto c = ws::close_frame(4401, "invalid_token");
  EXPECT_EQ(static_cast<unsigned char>(c[0]), 0x88);
  EXPECT_EQ(static_cast<unsigned char>(c[2]), 4401 >> 8);
  EXPECT_EQ(static_cast<unsigned char>(c[3]), 4401 & 0xFF);
  EXPECT_EQ(c.substr(4), "invalid_token");
  EXPECT_LE(ws::close_frame(1000, std::string(300, 'r')).size(), 2U + 125U);
}

TEST(WsFrame, UnmaskAtEveryOffset) {
  const std::array<std::uint8_t, 4> mask{1, 2, 3, 4};
  std::string data(37, 'a');
  std::string copy = data;
  ws::unmask(reinterpret_cast<std::uint8_t*>(copy.data()), copy.size(), mask, 3);
  for (std::size_t i = 0; i < data.size(); ++i) {
    EXPECT_EQ(static_cast<std::uint8_t>(copy[i]), static_cast<std::uint8_t>('a' ^ mask[(i + 3) % 4])) << i;
  }
}

TEST(WsHandshake, AcceptKeyOfRfc6455) {
  EXPECT_EQ(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(ws::valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(ws::valid_key("dGhlIHNhbXBsZSBub25jZQ="));
  EXPECT_FALSE(ws::valid_key("not a key"));
  EXPECT_FALSE(ws::valid_key("dGhlIHNhbXBsZSBub25j!!=="));
}

TEST(WriteQueue, CountsBytesAndKeepsOrder) {
  WriteQueue q;
  q.push(sig::domain::make_payload("aa"));
  q.push(sig::domain::make_payload("bbb"), true);
  q.push(sig::domain::make_payload("c"));
  EXPECT_EQ(q.size(), 3U);
  EXPECT_EQ(q.bytes(), 6U);
  EXPECT_TRUE(q.at(1).framed);
  q.pop();
  EXPECT_EQ(*q.at(0).data, "bbb");
  q.truncate(1);
  EXPECT_EQ(q.size(), 1U);
  EXPECT_EQ(q.bytes(), 3U);
  q.pop();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0U);
}

namespace {
std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8U));
  p.push_back(static_cast<char>(code & 0xFFU));
  p.append(reason);
  return p;
}
}  // namespace

TEST(WsClose, EmptyPayloadIsAnsweredWithNormalClosure) {
  const auto c = ws::parse_close_payload("");
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.code, 0);
  EXPECT_EQ(c.reply, 1000);
}

TEST(WsClose, ValidCodesAreEchoed) {
  for (const int wide : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
                         4000, 4404, 4999}) {
    const auto code = static_cast<std::uint16_t>(wide);
    const auto c = ws::parse_close_payload(close_payload(code, "bye"));
    EXPECT_TRUE(c.valid) << code;
    EXPECT_EQ(c.code, code);
    EXPECT_EQ(c.reply, code);
  }
}

TEST(WsClose, ForbiddenCodesAreAProtocolError) {
  for (const int wide : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 6000, 65535}) {
    const auto code = static_cast<std::uint16_t>(wide);
    const auto c = ws::parse_close_payload(close_payload(code));
    EXPECT_FALSE(c.valid) << code;
    EXPECT_EQ(c.code, code);
    EXPECT_EQ(c.reply, 1002) << code;
  }
}

TEST(WsClose, EveryCodeIsClassified) {
  int allowed = 0;
  for (unsigned code = 0; code <= 65535; ++code) {
    if (ws::close_code_allowed(static_cast<std::uint16_t>(code))) ++allowed;
  }
  EXPECT_EQ(allowed, 4 + 8 + 2000);  // 1000-1003, 1007-1014, 3000-4999
}

TEST(WsClose, OneBytePayloadIsAProtocolError) {
  for (const char b : {'\0', '\x03', '\xe8'}) {
    const auto c = ws::parse_close_payload(std::string(1, b));
    EXPECT_FALSE(c.valid);
    EXPECT_EQ(c.reply, 1002);
  }
}

TEST(WsClose, ReasonMustBeUtf8) {
  EXPECT_TRUE(ws::parse_close_payload(close_payload(1000, "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")).valid);
  EXPECT_TRUE(ws::parse_close_payload(close_payload(1000, "\xed\x9f\xbf \xf4\x8f\xbf\xbf"))
                  .valid);  // U+D7FF, U+10FFFF
  for (const std::string_view bad : {
           "\xff",              // never in UTF-8
           "\x80",              // a lone continuation byte
           "\xc3",              // truncated
           "\xe2\x82",          // truncated
           "\xc0\xaf",          // overlong '/'
           "\xe0\x80\xaf",      // overlong
           "\xf0\x80\x80\xaf",  // overlong
           "\xed\xa0\x80",      // a surrogate (U+D800)
           "\xf4\x90\x80\x80",  // above U+10FFFF
           "\xf5\x80\x80\x80",  // above U+10FFFF
           "ok\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
           "edited",  // Autobahn 7.5.1
       }) {
    const auto c = ws::parse_close_payload(close_payload(1000, bad));
    EXPECT_FALSE(c.valid) << testing::PrintToString(bad);
    EXPECT_EQ(c.reply, 1002);
  }
}
