#pragma once
// After Redis lost its data or this node lost Redis (or was presumed dead): writes this node's
// sessions and participants again, drops its stale entries, and emits the returns the restore
// script reports (docs/deployment.md, "Failover").
#include <functional>
#include <string>
#include <vector>

#include "cluster/admission.hpp"
#include "cluster/context.hpp"

namespace sig::cluster {

class Restore {
 public:
  using Done = std::function<void()>;
  Restore(Context& ctx, Admission& admission) : ctx_(ctx), admission_(admission) {}

  // One restore script per session of the hub that has not ended; `then` when all answered.
  void run(Done then = {});

 private:
  void emit_restored(const std::string& session_id, const RestoreReply& reply,
                     const std::vector<domain::LocalMember>& members);

  Context& ctx_;
  Admission& admission_;
};

}  // namespace sig::cluster
