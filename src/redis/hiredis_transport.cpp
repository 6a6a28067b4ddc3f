#include "redis/hiredis_transport.hpp"

#include <utility>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "common/log.hpp"
#include "redis/asio_adapter.hpp"

namespace sig::redis::detail {
namespace {

// hiredis owns the socket and the reply matching: a command's callback gets its reply (or NULL
// when the context is freed first); subscribe-mode replies go to the per-channel callbacks.
// ac->data is this object: the Link keeps it alive while the context lives (as its current
// transport, or, once gone, in the handler it posts).
class HiredisTransport final : public Transport {
 public:
  HiredisTransport(TransportEvents& events, std::string log_name)
      : events_(&events), name_(std::move(log_name)) {}
  HiredisTransport(const HiredisTransport&) = delete;
  HiredisTransport& operator=(const HiredisTransport&) = delete;
  ~HiredisTransport() override {
    events_ = nullptr;  // the Link closes its transports itself; this is only a safety net
    close();
  }

  bool open(const Strand& strand, const std::string& ip, std::uint16_t port) {
    redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), port);
    if (ac == nullptr) return false;
    if (ac->err != 0) {
      log::debug("redis connect failed", {{"client", name_},
                                          {"address", ip},
                                          {"port", static_cast<unsigned>(port)},
                                          {"error", static_cast<const char*>(ac->errstr)}});
      redisAsyncFree(ac);
      return false;
    }
    ac->data = this;
    if (auto ec = attach_asio(ac, strand, [this](redisAsyncContext* gone) { on_cleanup(gone); }); ec) {
      log::error("redis socket not attached", {{"client", name_}, {"error", ec.message()}});
      redisAsyncFree(ac);
      return false;
    }
    redisAsyncSetConnectCallback(ac, &HiredisTransport::c_on_connect);
    ac_ = ac;
    return true;
  }

  bool write(std::string_view resp, std::unique_ptr<Pending>& p) override {
    if (ac_ == nullptr || redisAsyncFormattedCommand(ac_, &HiredisTransport::c_on_reply, p.get(), resp.data(),
                                                     resp.size()) != REDIS_OK) {
      return false;
    }
    static_cast<void>(p.release());  // owned by hiredis until c_on_reply
    return true;
  }

  bool write_push(std::string_view resp) override {
    // hiredis 0.14 keeps the callback per channel (privdata: unused). For (P)UNSUBSCRIBE it
    // stores none: the confirmations go to the channel's callback, which it then forgets. It
    // refuses only while the context is being torn down; the loss is then reported anyway.
    return ac_ != nullptr && redisAsyncFormattedCommand(ac_, &HiredisTransport::c_on_push, nullptr,
                                                        resp.data(), resp.size()) == REDIS_OK;
  }

  void enable_keepalive() override {
    if (ac_ != nullptr) redisEnableKeepAlive(&ac_->c);
  }

  void close() override {
    if (ac_ == nullptr) return;
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;       // the adapter's cleanup hook then sees the context as ours
    redisAsyncFree(ac);  // pending callbacks get NULL replies, passed on to the Link
    events_ = nullptr;
  }

 private:
  static HiredisTransport* from(const redisAsyncContext* ac) {
    return static_cast<HiredisTransport*>(ac->data);
  }

  // hiredis is freeing the context by itself (EOF, I/O error, failed connect): runs inside hiredis.
  void report_gone(const redisAsyncContext* ac, std::error_code why) {
    if (gone_) return;
    gone_ = true;
    if (ac->errstr[0] != '\0') {
      log::debug("redis connection error",
                 {{"client", name_}, {"error", static_cast<const char*>(ac->errstr)}});
    }
    if (events_ != nullptr) events_->transport_gone(*this, why);
  }

  // Called by the adapter while hiredis frees the context (after the NULL replies).
  void on_cleanup(redisAsyncContext* ac) {
    if (ac != ac_) return;  // close(), or a failed connect already reported
    ac_ = nullptr;
    report_gone(ac, Errc::connection_lost);
  }

  static void c_on_connect(const redisAsyncContext* ac, int status) {
    if (status == REDIS_OK) return;  // the PING reply completes the Link's handshake
    HiredisTransport* self = from(ac);
    // hiredis frees the context right after this callback.
    self->ac_ = nullptr;
    self->report_gone(ac, Errc::connect_failed);
  }

  static void c_on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
    HiredisTransport* self = from(ac);
    if (self->events_ != nullptr) {
      self->events_->transport_reply(*self, static_cast<const redisReply*>(reply), std::move(p));
    }
  }

  static void c_on_push(redisAsyncContext* ac, void* reply, void* /*privdata*/) {
    if (reply == nullptr) return;  // the context is being freed; the loss is reported elsewhere
    HiredisTransport* self = from(ac);
    if (self->events_ != nullptr) self->events_->transport_push(*self, static_cast<const redisReply*>(reply));
  }

  TransportEvents* events_;
  std::string name_;
  redisAsyncContext* ac_ = nullptr;
  bool gone_ = false;
};

}  // namespace

std::shared_ptr<Transport> connect_hiredis(const Strand& strand, const std::string& ip, std::uint16_t port,
                                           TransportEvents& events, const std::string& log_name) {
  auto t = std::make_shared<HiredisTransport>(events, log_name);
  if (!t->open(strand, ip, port)) return nullptr;
  return t;
}

}  // namespace sig::redis::detail
