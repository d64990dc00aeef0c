// SocketFacts: what the local end of a connected TCP socket looks like, for
// `mpio check`: local address, the interface that holds it, its prefix and
// subnet, the interface's MTU, the connection's MSS, and the device the
// socket is bound to (SO_BINDTODEVICE), if any.
//
// Threads: any; the calls only read kernel state (getsockname, getsockopt,
// getifaddrs, SIOCGIFMTU) and never change the socket.
// Ownership: borrows the fd; it stays open and untouched.
// Failure: an error when the fd is not a connected IPv4/IPv6 socket; fields
// the kernel would not tell (no interface holds the address) stay empty or 0.
#ifndef MPIO_ENGINE_ISCSI_SOCKET_FACTS_H_
#define MPIO_ENGINE_ISCSI_SOCKET_FACTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mpio {

struct SocketFacts {
  bool ipv6 = false;
  std::string local_address;  // "198.18.0.1" / "fd00::1", no port
  int local_port = 0;
  std::string peer_address;
  // The interface that holds local_address (getifaddrs). With the usual
  // strong-host setup that is the egress interface; a weak-host setup that
  // routes out of another NIC is not detected.
  std::string interface;
  int prefix_len = -1;
  std::string network;  // "198.18.0.0/30"
  // Every up interface with an address inside `network` (including
  // `interface`), sorted.
  std::vector<std::string> subnet_interfaces;
  int mtu = 0;                  // SIOCGIFMTU of `interface`
  int mss = 0;                  // TCP_MAXSEG: the connection's current MSS
  std::string bound_interface;  // SO_BINDTODEVICE, empty when unbound
};

absl::StatusOr<SocketFacts> ReadSocketFacts(int fd);

}  // namespace mpio

#endif  // MPIO_ENGINE_ISCSI_SOCKET_FACTS_H_
