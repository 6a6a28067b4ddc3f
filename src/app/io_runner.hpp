#pragma once
// The loop of every thread that runs the io_context.
#include <boost/asio/io_context.hpp>

namespace sig::app {

// Runs ioc until it is stopped or runs out of work. No exception escapes a handler: one that
// throws (a library can, e.g. Beast's std::length_error on an oversized chunked trailer) is
// logged as one error line with its what(), and the thread goes back to running the loop, so the
// process and every other connection live on. The handler that threw is destroyed as the
// exception unwinds, and with it the shared_ptr that kept its connection alive: that connection
// (and only that one) is closed.
void run_io(boost::asio::io_context& ioc) noexcept;

}  // namespace sig::app
