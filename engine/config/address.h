// Network addresses as written in mpio.toml: target portals
// "IP[:PORT][%IFACE]" and listen addresses "HOST:PORT". IPv6 goes in
// brackets ("[fd00::2]:3260"), so the last colon is always the port.
//
// Pure functions, any thread. Only syntax is checked (no name lookup): a
// host name is accepted where an IP is, since libiscsi and the listeners
// resolve names. Errors are InvalidArgument quoting the text.
#ifndef MPIO_ENGINE_CONFIG_ADDRESS_H_
#define MPIO_ENGINE_CONFIG_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/core/engine.h"

namespace mpio {

inline constexpr int kIscsiDefaultPort = 3260;

struct HostPort {
  std::string host;  // without brackets
  int port = 0;      // 0: none given
  bool ipv6 = false;
};

// "HOST", "HOST:PORT", "[V6]", "[V6]:PORT". Port 1..65535.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// A listen address: like ParseHostPort, but the port is required.
absl::StatusOr<HostPort> ParseListenAddress(absl::string_view text);

// "IP[:PORT][%IFACE]" -> PortalSpec{address: "IP[:PORT]" as written,
// interface: IFACE}.
absl::StatusOr<PortalSpec> ParsePortal(absl::string_view text);

// "host:port%iface" with the default port filled in: two specs with the same
// key are the same path.
std::string PortalKey(const PortalSpec& portal);

}  // namespace mpio

#endif  // MPIO_ENGINE_CONFIG_ADDRESS_H_
