#pragma once
// Boost.Asio event adapter for hiredis 0.14's async API (hiredis ships adapters for libevent,
// libuv, ... but none for Asio).
//
// attach_asio() installs the redisAsyncContext event hooks (ev.addRead / delRead / addWrite /
// delWrite / cleanup). Readiness is awaited with posix::stream_descriptor::async_wait on the
// context's socket and turned into redisAsyncHandleRead / redisAsyncHandleWrite calls.
//
// Rules:
// - The executor must serialise its handlers (a strand, or an io_context run by one thread),
//   and every other call into hiredis for this context must run on that same executor.
// - hiredis owns the file descriptor: the adapter never closes it; it release()s it from the
//   stream_descriptor when hiredis calls the cleanup hook (before hiredis closes the fd).
// - hiredis may free the context inside redisAsyncHandleRead/Write (EOF, error, failed
//   connect). The cleanup hook detaches the adapter first: it nulls every ev hook, forgets the
//   context and cancels the pending waits, whose handlers (which keep the adapter alive) then
//   see that the context is gone and return without touching it.

#include <functional>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>

struct redisAsyncContext;

namespace sig::redis {

// Called from hiredis's cleanup hook, i.e. while hiredis is freeing the context: the context is
// still valid during the call but must not be used afterwards, and no hiredis function may be
// called on it from the hook.
using AdapterCleanupHook = std::function<void(redisAsyncContext*)>;

// Attaches ac (which must not have another adapter) to ex. Returns an error when the context
// already has event hooks or its socket cannot be registered with the reactor; the context is
// then left untouched (the caller still owns it and frees it with redisAsyncFree).
std::error_code attach_asio(redisAsyncContext* ac, const boost::asio::any_io_executor& ex,
                            AdapterCleanupHook on_cleanup = {});

}  // namespace sig::redis
