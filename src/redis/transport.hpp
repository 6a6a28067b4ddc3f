#pragma once
// Internal to src/redis: the byte transport under a Link (client.cpp). Two implementations:
// - HiredisTransport (hiredis_transport.cpp): redis://, hiredis 0.14's async context driven by
//   our Asio adapter (hiredis writes, reads, parses and matches replies to callbacks).
// - TlsTransport (tls_transport.cpp): rediss://, boost::asio::ssl::stream over TCP; replies are
//   parsed with hiredis's redisReader and matched in order here.
// The Link keeps everything else (handshake, timeouts, reconnects, pending limit, EVALSHA
// fallback, subscriptions) and sees the same redisReply* from both.
//
// Rules (both implementations):
// - Every call, and every event, runs on the Link's strand.
// - write(): the reply goes to TransportEvents::transport_reply with the Pending, in the order
//   of the writes. write_push(): (P)SUBSCRIBE / (P)UNSUBSCRIBE; their confirmations and the
//   messages go to transport_push. Writes made before the connection is up are queued.
// - A failure of the transport (connect, TLS handshake, EOF, I/O, protocol) is reported once
//   with transport_gone; then every Pending still waiting gets transport_reply(nullptr).
//   close() frees the connection at once: every Pending still waiting gets
//   transport_reply(nullptr) before close() returns, and nothing is reported afterwards.
// - Events are delivered from inside the transport: the receiver only records and posts (it
//   must not call back into the transport, nor drop its last reference to it).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "redis/types.hpp"

struct redisReply;  // hiredis

namespace sig::redis::detail {

struct ScriptData;

// A command awaiting its reply.
struct Pending {
  enum class Kind : std::uint8_t { user, auth, select, script, ping };
  Kind kind = Kind::user;
  std::uint64_t gen = 0;
  ReplyCallback cb;
  std::shared_ptr<const ScriptData> script;  // EVALSHA: retried once on NOSCRIPT
  std::string resend;                        // the formatted EVALSHA, for that retry
};

class Transport;

class TransportEvents {
 public:
  // r == nullptr: the transport went away (or was closed) before the reply came.
  virtual void transport_reply(Transport& t, const redisReply* r, std::unique_ptr<Pending> p) = 0;
  // A reply no write() waits for (subscribe mode: messages, (un)subscribe confirmations).
  virtual void transport_push(Transport& t, const redisReply* r) = 0;
  // The transport failed by itself; why: connect_failed, tls_handshake_failed, connection_lost.
  virtual void transport_gone(Transport& t, std::error_code why) = 0;
  // true: an error reply no write() waits for goes to transport_push (sharded pub/sub: -MOVED to
  // an SSUBSCRIBE) instead of ending the connection. Our own reader only (tls_transport.cpp).
  virtual bool push_errors() const noexcept { return false; }

 protected:
  virtual ~TransportEvents() = default;
};

class Transport {
 public:
  Transport() = default;
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Queues one RESP command. On success takes p (leaves it null); false: refused (the transport
  // is going away), p is left to the caller.
  virtual bool write(std::string_view resp, std::unique_ptr<Pending>& p) = 0;
  // Queues a (P)SUBSCRIBE or (P)UNSUBSCRIBE. false: refused.
  virtual bool write_push(std::string_view resp) = 0;
  // TCP keepalive on the socket (idle 15 s, like hiredis's redisEnableKeepAlive).
  virtual void enable_keepalive() = 0;
  // Frees the connection now (see the rules above). Idempotent.
  virtual void close() = 0;
};

}  // namespace sig::redis::detail
