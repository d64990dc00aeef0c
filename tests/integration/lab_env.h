// LabEnv: what an integration test knows about a lab started by
// tests/lab/lab.sh (a ctest fixture brings it up and down), and the faults
// it can inject. Every call runs lab.sh and returns its error text.
#ifndef MPIO_TESTS_INTEGRATION_LAB_ENV_H_
#define MPIO_TESTS_INTEGRATION_LAB_ENV_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/engine.h"

namespace mpio::testing {

struct LabEnv {
  std::string name;
  std::string target_iqn;
  std::vector<std::string> portals;  // "ip:port", path 1 first
  uint64_t lun_size_bytes = 0;
  std::map<std::string, std::string> vars;

  static absl::StatusOr<LabEnv> Load(const std::string& name);
  // lab.sh fault --name NAME --path I FAULT [extra args]
  absl::Status Fault(int path, const std::string& fault,
                     const std::string& extra = "") const;
  absl::Status TargetFault(const std::string& fault) const;
  TargetSpec Spec() const;
};

// One request through a device, waiting for it: `buf` is the payload
// (length = its size unless `length` is given; null for flush).
absl::Status SyncIo(BlockDevice* dev, IoOp op, uint64_t offset, std::vector<uint8_t>* buf,
                    uint64_t length = 0);

// Runs a shell command, returns its output; error with output on failure.
absl::StatusOr<std::string> Shell(const std::string& command);
// The plugin directory of this build.
std::string PluginDir();
std::string LabScript();

}  // namespace mpio::testing

#endif  // MPIO_TESTS_INTEGRATION_LAB_ENV_H_
