#include "redis/asio_adapter.hpp"

#include <memory>
#include <utility>

#include <hiredis/async.h>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/log.hpp"

namespace sig::redis {
namespace {

namespace asio = boost::asio;

// One per attached context. hiredis holds it through ev.data (a raw pointer backed by self_);
// each pending wait holds it through a shared_ptr. The cleanup hook drops self_.
class AsioAdapter : public std::enable_shared_from_this<AsioAdapter> {
 public:
  AsioAdapter(const asio::any_io_executor& ex, AdapterCleanupHook hook)
      : descriptor_(ex), on_cleanup_(std::move(hook)) {}

  AsioAdapter(const AsioAdapter&) = delete;
  AsioAdapter& operator=(const AsioAdapter&) = delete;

  ~AsioAdapter() {
    // Never close: the fd belongs to hiredis.
    if (descriptor_.is_open()) static_cast<void>(descriptor_.release());
  }

  std::error_code attach(redisAsyncContext* ac) {
    boost::system::error_code ec;
    descriptor_.assign(ac->c.fd, ec);
    if (ec) return ec;
    ac_ = ac;
    self_ = shared_from_this();
    ac->ev.data = this;
    ac->ev.addRead = &AsioAdapter::add_read;
    ac->ev.delRead = &AsioAdapter::del_read;
    ac->ev.addWrite = &AsioAdapter::add_write;
    ac->ev.delWrite = &AsioAdapter::del_write;
    ac->ev.cleanup = &AsioAdapter::cleanup;
    return {};
  }

 private:
  static AsioAdapter* from(void* privdata) { return static_cast<AsioAdapter*>(privdata); }

  static void add_read(void* privdata) {
    AsioAdapter* self = from(privdata);
    self->want_read_ = true;
    self->arm(false);
  }
  static void del_read(void* privdata) { from(privdata)->want_read_ = false; }
  static void add_write(void* privdata) {
    AsioAdapter* self = from(privdata);
    self->want_write_ = true;
    self->arm(true);
  }
  static void del_write(void* privdata) { from(privdata)->want_write_ = false; }
  static void cleanup(void* privdata) { from(privdata)->detach(); }

  // Starts one wait for this direction unless one is already pending. A wait left pending after
  // del_read/del_write is not cancelled (cancel() would cancel both directions); its handler
  // simply does nothing when the interest is gone.
  void arm(bool write) {
    bool& armed = write ? write_armed_ : read_armed_;
    if (armed || ac_ == nullptr) return;
    armed = true;
    descriptor_.async_wait(
        write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read,
        [self = shared_from_this(), write](const boost::system::error_code& ec) {
          self->on_ready(write, ec);
        });
  }

  void on_ready(bool write, const boost::system::error_code& ec) {
    (write ? write_armed_ : read_armed_) = false;
    if (ac_ == nullptr || ec == asio::error::operation_aborted) return;
    if (!(write ? want_write_ : want_read_)) return;
    if (ec) {
      // Not expected on a valid socket; let hiredis find the error on the socket itself.
      log::debug("redis adapter wait error", {{"error", ec.message()}});
    }
    // May free the context (and call cleanup() -> detach()) before returning.
    if (write) {
      redisAsyncHandleWrite(ac_);
    } else {
      redisAsyncHandleRead(ac_);
    }
    if (ac_ != nullptr && (write ? want_write_ : want_read_)) arm(write);
  }

  void detach() {
    std::shared_ptr<AsioAdapter> keep = std::move(self_);  // may be the last reference
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    want_read_ = false;
    want_write_ = false;
    if (ac != nullptr) {
      // Any later hook call from hiredis becomes a no-op (its macros test the pointers).
      ac->ev.addRead = nullptr;
      ac->ev.delRead = nullptr;
      ac->ev.addWrite = nullptr;
      ac->ev.delWrite = nullptr;
      ac->ev.cleanup = nullptr;
      ac->ev.data = nullptr;
    }
    // Deregisters from the reactor and cancels the pending waits without closing the fd,
    // which hiredis closes right after this hook.
    if (descriptor_.is_open()) static_cast<void>(descriptor_.release());
    AdapterCleanupHook hook = std::move(on_cleanup_);
    if (hook && ac != nullptr) hook(ac);
  }

  asio::posix::stream_descriptor descriptor_;
  AdapterCleanupHook on_cleanup_;
  redisAsyncContext* ac_ = nullptr;
  std::shared_ptr<AsioAdapter> self_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
};

}  // namespace

std::error_code attach_asio(redisAsyncContext* ac, const boost::asio::any_io_executor& ex,
                            AdapterCleanupHook on_cleanup) {
  if (ac == nullptr || ac->c.fd < 0) return std::make_error_code(std::errc::invalid_argument);
  if (ac->ev.data != nullptr) return std::make_error_code(std::errc::device_or_resource_busy);
  auto adapter = std::make_shared<AsioAdapter>(ex, std::move(on_cleanup));
  return adapter->attach(ac);
}

}  // namespace sig::redis
