// SendTargets discovery on one portal, asynchronously on a reactor.
//
// tgtd answers SendTargets with only the portal that was asked
// (LIBISCSI-NOTES.md section 0), so callers run it on every configured
// portal and merge.
// Threads: call and complete on the reactor thread.
// Failure: `done` gets a clear error naming the portal within `timeout`
// (unreachable, not iSCSI, login refused); nothing is left behind.
#ifndef MPIO_ENGINE_ISCSI_DISCOVERY_H_
#define MPIO_ENGINE_ISCSI_DISCOVERY_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/reactor/reactor.h"

namespace mpio {

struct DiscoveredTarget {
  std::string iqn;
  std::vector<std::string> portals;  // "ip:port,tpgt" as the target says
};

struct DiscoveryConfig {
  std::string portal;
  std::string initiator_iqn = "iqn.2026-12.org.mpio:initiator";
  std::string chap_user, chap_secret;
  std::string interface;
  absl::Duration timeout = absl::Seconds(5);
};

void DiscoverTargets(
    Reactor* reactor, DiscoveryConfig config,
    std::function<void(absl::StatusOr<std::vector<DiscoveredTarget>>)> done);

}  // namespace mpio

#endif  // MPIO_ENGINE_ISCSI_DISCOVERY_H_
