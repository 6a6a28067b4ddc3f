#pragma once
// The Redis options of the configuration in their own block: --redis or --redis-cluster (seeds),
// the password file, the TLS files, --node-ttl and --cluster-sync; and their loading (the password
// put in the URL, the cluster seeds parsed, every error naming its option).
#include <string>

#include "app/config.hpp"

namespace CLI {
class App;
}

namespace sig::app {

// password_file receives --redis-password-file (read by load_redis_options).
void add_redis_options(CLI::App& app, Config& c, std::string& password_file);
// Checks --redis / --redis-cluster and reads the password file into them; throws
// std::runtime_error naming the option.
void load_redis_options(Config& c, const std::string& password_file);

}  // namespace sig::app
