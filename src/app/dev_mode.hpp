#pragma once
// --dev: the demo session, and the service options that bind development tokens to it.
// UNSAFE by design (anyone on the machine gets a token), safe by construction: parse_config
// refuses --dev beside --redis, a real key or a non-loopback --listen, and keys.cpp gives it a
// random secret of its own.
#include "app/config.hpp"
#include "app/signaling_service.hpp"
#include "domain/hub.hpp"

namespace sig::app {

// Alice (host), Bob, Carol, Dave, Erin and Frank.
domain::SessionSpec demo_session();

// The options of the signaling service for this configuration; with --dev, tokens join the
// demo session only.
ServiceOptions service_options(const Config& config);

}  // namespace sig::app
