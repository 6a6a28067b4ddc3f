#pragma once
// Wires the modules together and runs the event loop until SIGINT or SIGTERM.
#include "app/config.hpp"

namespace sig::app {

// Throws std::exception at start-up (bad key, port in use, ...); returns the exit code.
int run_server(const Config& config);

}  // namespace sig::app
