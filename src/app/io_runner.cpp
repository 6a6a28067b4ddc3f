#include "app/io_runner.hpp"

#include <exception>

#include "common/log.hpp"

namespace sig::app {

namespace {

// Logging may itself fail (out of memory, the very error being reported): then nothing is
// written, but the loop still goes on.
void log_escaped(const char* what) noexcept {
  try {
    log::error("exception escaped a handler; its connection is dropped, the server goes on",
               {{"error", what}});
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
}

}  // namespace

void run_io(boost::asio::io_context& ioc) noexcept {
  for (;;) {
    try {
      // After an exception the io_context is not stopped and needs no restart(): run() again
      // picks up the remaining handlers (Asio's documented behaviour).
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log_escaped(e.what());
    } catch (...) {
      log_escaped("an exception not derived from std::exception");
    }
  }
}

}  // namespace sig::app
