#pragma once
// Wires the modules together and runs the event loop until SIGINT or SIGTERM.
#include <string>
#include <vector>

#include "app/config.hpp"

namespace sig::app {

// Throws std::exception at start-up (bad key, port in use, ...); returns the exit code. args:
// argv as given, parsed again on SIGHUP (app/reload.hpp); empty: SIGHUP reloads nothing.
int run_server(const Config& config, std::vector<std::string> args = {});

}  // namespace sig::app
