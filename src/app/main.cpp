// signaling-server: see README.md and docs/protocol.md.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "app/server.hpp"

int main(int argc, char** argv) {
  const auto config = sig::app::parse_config(argc, argv);
  try {
    return sig::app::run_server(config, std::vector<std::string>(argv, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "signaling-server: " << e.what() << '\n';
    return 1;
  }
}
