#include "engine/iscsi/socket_facts.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mpio {
namespace {

// An address as raw bytes (4 or 16), so v4 and v6 share the mask math.
struct Raw {
  int family = AF_UNSPEC;
  unsigned char bytes[16] = {};
  int len = 0;
};

Raw ToRaw(const sockaddr* sa) {
  Raw r;
  if (sa == nullptr) return r;
  if (sa->sa_family == AF_INET) {
    r.family = AF_INET;
    r.len = 4;
    std::memcpy(r.bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr,
                4);
  } else if (sa->sa_family == AF_INET6) {
    r.family = AF_INET6;
    r.len = 16;
    std::memcpy(r.bytes, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr,
                16);
  }
  return r;
}

bool Same(const Raw& a, const Raw& b) {
  return a.family == b.family && a.len == b.len &&
         std::memcmp(a.bytes, b.bytes, a.len) == 0;
}

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address.
Raw Unmap(const Raw& r) {
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};
  if (r.family != AF_INET6 || std::memcmp(r.bytes, kMapped, 12) != 0) return r;
  Raw v4;
  v4.family = AF_INET;
  v4.len = 4;
  std::memcpy(v4.bytes, r.bytes + 12, 4);
  return v4;
}

int PrefixOf(const Raw& mask) {
  int n = 0;
  for (int i = 0; i < mask.len; i++) {
    n += __builtin_popcount(mask.bytes[i]);
  }
  return n;
}

Raw Masked(const Raw& a, int prefix) {
  Raw r = a;
  for (int i = 0; i < r.len; i++) {
    const int bits = std::clamp(prefix - i * 8, 0, 8);
    r.bytes[i] &= static_cast<unsigned char>(0xff00 >> bits);
  }
  return r;
}

std::string Text(const Raw& r) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (r.family == AF_UNSPEC) return "";
  inet_ntop(r.family, r.bytes, buf, sizeof(buf));
  return buf;
}

absl::Status Errno(const char* what) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<SocketFacts> ReadSocketFacts(int fd) {
  if (fd < 0) return absl::FailedPreconditionError("no socket (not connected)");
  SocketFacts f;
  sockaddr_storage local{}, peer{};
  socklen_t len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
    return Errno("getsockname");
  len = sizeof(peer);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0)
    return Errno("getpeername (not connected)");
  const Raw me = Unmap(ToRaw(reinterpret_cast<sockaddr*>(&local)));
  if (me.family == AF_UNSPEC) {
    return absl::FailedPreconditionError("not an IPv4 or IPv6 socket");
  }
  f.ipv6 = me.family == AF_INET6;
  f.local_address = Text(me);
  f.peer_address = Text(Unmap(ToRaw(reinterpret_cast<sockaddr*>(&peer))));
  f.local_port =
      ntohs(local.ss_family == AF_INET
                ? reinterpret_cast<sockaddr_in*>(&local)->sin_port
                : reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);

  int mss = 0;
  len = sizeof(mss);
  if (getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) == 0) f.mss = mss;
  char bound[IFNAMSIZ + 1] = {};
  len = IFNAMSIZ;
  if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, bound, &len) == 0 &&
      len > 0) {
    f.bound_interface.assign(bound, strnlen(bound, IFNAMSIZ));
  }

  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Errno("getifaddrs");
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_name == nullptr || !Same(ToRaw(i->ifa_addr), me)) continue;
    // The bound device wins when one address sits on several interfaces.
    if (!f.interface.empty() && i->ifa_name != f.bound_interface) continue;
    f.interface = i->ifa_name;
    f.prefix_len = PrefixOf(ToRaw(i->ifa_netmask));
  }
  if (f.prefix_len >= 0) {
    const Raw net = Masked(me, f.prefix_len);
    f.network = absl::StrCat(Text(net), "/", f.prefix_len);
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      const Raw a = ToRaw(i->ifa_addr);
      if (i->ifa_name == nullptr || a.family != me.family) continue;
      if ((i->ifa_flags & IFF_UP) == 0) continue;
      if (!Same(Masked(a, f.prefix_len), net)) continue;
      if (std::find(f.subnet_interfaces.begin(), f.subnet_interfaces.end(),
                    i->ifa_name) == f.subnet_interfaces.end()) {
        f.subnet_interfaces.push_back(i->ifa_name);
      }
    }
    std::sort(f.subnet_interfaces.begin(), f.subnet_interfaces.end());
  }
  freeifaddrs(list);

  if (!f.interface.empty()) {
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s",
                  f.interface.c_str());
    if (ioctl(fd, SIOCGIFMTU, &ifr) == 0) f.mtu = ifr.ifr_mtu;
  }
  return f;
}

}  // namespace mpio
