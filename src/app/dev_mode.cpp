#include "app/dev_mode.hpp"

#include "app/admin_api.hpp"

namespace sig::app {

domain::SessionSpec demo_session() {
  domain::SessionSpec spec;
  spec.host_user_id = "alice";
  for (const auto* name : {"Alice", "Bob", "Carol", "Dave", "Erin", "Frank"}) {
    std::string id(name);
    id[0] = static_cast<char>(id[0] - 'A' + 'a');
    spec.participants.push_back({id, name});
  }
  return spec;
}

ServiceOptions service_options(const Config& config) {
  ServiceOptions options;
  options.rate_limit = config.rate_limit;
  options.rate_burst = config.rate_burst;
  if (config.dev) options.only_session = DevMode{}.session_id;
  return options;
}

}  // namespace sig::app
