#pragma once
// The token options of the configuration in their own block: --jwt-secret (kid:secret,
// repeatable), --jwt-secret-file, --jwt-public-key, the claims checked, and the key sets
// (--jwt-jwks-file, --jwt-jwks-url and its refresh). Loaded by app/keys.hpp.
#include <string>

#include "app/config.hpp"

namespace CLI {
class App;
}

namespace sig::app {

// jwt_secret_file receives --jwt-secret-file (read with the other secret files).
void add_jwt_options(CLI::App& app, Config& c, std::string& jwt_secret_file);

}  // namespace sig::app
