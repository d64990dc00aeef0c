#include "engine/config/address.h"

#include <doctest/doctest.h>

#include <string>

namespace mpio {
namespace {

TEST_CASE("ParsePortal splits IP[:PORT][%IFACE]") {
  struct Case {
    const char* text;
    const char* address;
    const char* interface;
  };
  const Case cases[] = {
      {"198.18.0.2", "198.18.0.2", ""},
      {"198.18.0.6:3260", "198.18.0.6:3260", ""},
      {"198.18.0.10%eth1", "198.18.0.10", "eth1"},
      {"198.18.0.10:3261%veth-a.10", "198.18.0.10:3261", "veth-a.10"},
      {"[fd00::2]", "[fd00::2]", ""},
      {"[fd00::2]:3260%eth1", "[fd00::2]:3260", "eth1"},
      {"truenas.lab", "truenas.lab", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    absl::StatusOr<PortalSpec> p = ParsePortal(c.text);
    REQUIRE(p.ok());
    CHECK(p->address == c.address);
    CHECK(p->interface == c.interface);
  }
}

TEST_CASE("ParsePortal refuses malformed portals with a reason") {
  struct Case {
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"", "expected IP[:PORT][%IFACE]"},
      {"%eth0", "expected IP[:PORT][%IFACE]"},
      {"198.18.0.2:0", "port must be a number from 1 to 65535"},
      {"198.18.0.2:65536", "port must be a number from 1 to 65535"},
      {"198.18.0.2:", "port must be a number from 1 to 65535"},
      {"198.18.0.2:32a", "port must be a number from 1 to 65535"},
      {"198.18.0.2%", "interface after '%' must be 1 to 15 characters"},
      {"198.18.0.2%averyveryverylongname", "must be 1 to 15 characters"},
      {"198.18.0.2%eth 0", "is not an interface name"},
      {"198.18.0.300", "is not an IPv4 address"},
      {"fd00::2", "IPv6 addresses go in brackets"},
      {"[fd00::2", "missing ']'"},
      {"[fd00::zz]:3260", "is not an IPv6 address"},
      {"[fd00::2]3260", "expected ':PORT' after ']'"},
      {"198.18.0.2/24", "is not an IP address or host name"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    absl::StatusOr<PortalSpec> p = ParsePortal(c.text);
    REQUIRE_FALSE(p.ok());
    CHECK(std::string(p.status().message()).find(c.message_part) !=
          std::string::npos);
  }
}

TEST_CASE("PortalKey treats the default port as written or not the same") {
  CHECK(PortalKey(*ParsePortal("198.18.0.2")) ==
        PortalKey(*ParsePortal("198.18.0.2:3260")));
  CHECK(PortalKey(*ParsePortal("198.18.0.2")) !=
        PortalKey(*ParsePortal("198.18.0.2%eth1")));
  CHECK(PortalKey(*ParsePortal("198.18.0.2")) !=
        PortalKey(*ParsePortal("198.18.0.2:3261")));
  CHECK(PortalKey(*ParsePortal("[FD00::2]")) ==
        PortalKey(*ParsePortal("[fd00::2]:3260")));
}

TEST_CASE("ParseListenAddress needs HOST:PORT") {
  absl::StatusOr<HostPort> hp = ParseListenAddress("127.0.0.1:10809");
  REQUIRE(hp.ok());
  CHECK(hp->host == "127.0.0.1");
  CHECK(hp->port == 10809);
  hp = ParseListenAddress("[::1]:9737");
  REQUIRE(hp.ok());
  CHECK(hp->host == "::1");
  CHECK(hp->ipv6);
  CHECK_FALSE(ParseListenAddress("127.0.0.1").ok());
  CHECK_FALSE(ParseListenAddress(":10809").ok());
  CHECK_FALSE(ParseListenAddress("127.0.0.1:99999").ok());
}

}  // namespace
}  // namespace mpio
