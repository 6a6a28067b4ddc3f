#pragma once
// SIGHUP: the configuration read again (argv, the environment, the --config file) without a
// restart and without dropping a connection (docs/deployment.md, "Reload").
//  - A configuration that does not parse (or a key that does not load) is logged as an error
//    and changes nothing: the server goes on with what it had.
//  - Every option whose value changed is logged by name (never a value: some are secrets),
//    either as applied or as needing a restart.
//  - The hooks apply what can change safely; the server registers the token keys (secrets,
//    --jwt-public-key, --jwt-jwks-file re-read, --jwt-jwks-url fetched again), the lead the
//    webhook targets. Key material is re-read on every SIGHUP, changed option or not (a secret
//    file or a JWKS file rewritten in place).
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "app/config.hpp"

namespace sig::app {

struct OptionChange {
  std::string option;  // without the leading "--"
  bool applied = false;
};

// The options whose value differs between two parses (try_parse_config's `values`), in name
// order; `live` names those a hook applies.
std::vector<OptionChange> diff_options(const std::map<std::string, std::string>& before,
                                       const std::map<std::string, std::string>& after,
                                       const std::set<std::string>& live);

class Reloader {
 public:
  // Runs on a reload with the configuration in force and the new one; throws to refuse the new
  // configuration (the hooks after it are not run and the old configuration stays in force).
  using Hook = std::function<void(const Config& before, const Config& after)>;

  // args: argv as the process got it (argv[0] first).
  Reloader(std::vector<std::string> args, Config current);

  // `options` (names without "--") are those the hook applies live. Hooks run in the order they
  // were added: key material first, so a bad key refuses the reload before anything changed.
  void add_hook(std::vector<std::string> options, Hook hook);

  // Not thread-safe: call from one strand. Returns whether the new configuration is in force.
  bool reload();
  const Config& current() const noexcept { return current_; }

 private:
  std::vector<std::string> args_;
  Config current_;
  std::map<std::string, std::string> values_;
  std::set<std::string> live_;
  std::vector<Hook> hooks_;
};

}  // namespace sig::app
