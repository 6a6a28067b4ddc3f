#pragma once
// The JSON body of one webhook delivery (docs/webhooks.md):
//   {"type":"participant.left","timestamp":"…Z","data":{…}[,"droppedBefore":N]}
// Pure: the same event and count always give the same bytes (a retry re-sends the very body that
// was signed the first time).
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/events.hpp"

namespace sig::webhook {

// dropped_before: events of this target dropped since the last delivered one (0: field omitted).
std::string envelope_json(const domain::PlatformEvent& event, std::uint64_t dropped_before = 0);

}  // namespace sig::webhook
