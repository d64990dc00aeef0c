#include "engine/iscsi/socket_facts.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace mpio {
namespace {

// A connected loopback TCP pair: client and accepted server sockets.
struct Pair {
  int listener = -1, client = -1, server = -1;
  ~Pair() {
    for (int fd : {listener, client, server})
      if (fd >= 0) close(fd);
  }
};

void Connect(Pair* p, int client_mss = 0) {
  p->listener = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(p->listener >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(p->listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(listen(p->listener, 1) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(getsockname(p->listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  p->client = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(p->client >= 0);
  if (client_mss > 0) {
    REQUIRE(setsockopt(p->client, IPPROTO_TCP, TCP_MAXSEG, &client_mss,
                       sizeof(client_mss)) == 0);
  }
  REQUIRE(connect(p->client, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  p->server = accept(p->listener, nullptr, nullptr);
  REQUIRE(p->server >= 0);
}

TEST_CASE("a loopback connection: lo, 127.0.0.0/8, its MTU and MSS") {
  Pair p;
  Connect(&p);
  auto f = ReadSocketFacts(p.client);
  REQUIRE(f.ok());
  CHECK_FALSE(f->ipv6);
  CHECK(f->local_address == "127.0.0.1");
  CHECK(f->peer_address == "127.0.0.1");
  CHECK(f->local_port > 0);
  CHECK(f->interface == "lo");
  CHECK(f->prefix_len == 8);
  CHECK(f->network == "127.0.0.0/8");
  CHECK(std::find(f->subnet_interfaces.begin(), f->subnet_interfaces.end(),
                  "lo") != f->subnet_interfaces.end());
  CHECK(f->mtu >= 1500);  // 65536 on current kernels
  CHECK(f->mss > 0);
  CHECK(f->mss < f->mtu);
  CHECK(f->bound_interface.empty());
}

TEST_CASE("the MSS is the connection's, not the interface's") {
  Pair p;
  Connect(&p, /*client_mss=*/1000);
  auto f = ReadSocketFacts(p.client);
  REQUIRE(f.ok());
  // Our own clamp of 1000 bounds what we send (less TCP options).
  CHECK(f->mss <= 1000);
  CHECK(f->mss >= 900);
  // The accepted side sees the peer's advertised MSS too.
  auto g = ReadSocketFacts(p.server);
  REQUIRE(g.ok());
  CHECK(g->mss <= 1000);
  CHECK(g->mtu == f->mtu);
}

TEST_CASE("SO_BINDTODEVICE is read back") {
  Pair p;
  p.client = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(p.client >= 0);
  const char dev[] = "lo";
  if (setsockopt(p.client, SOL_SOCKET, SO_BINDTODEVICE, dev, sizeof(dev)) !=
      0) {
    MESSAGE("SO_BINDTODEVICE needs CAP_NET_RAW: skipped");
    return;
  }
  close(p.client);
  p.client = -1;
  // Connect again with the bind in place.
  p.listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(p.listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(listen(p.listener, 1) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(getsockname(p.listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  p.client = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(setsockopt(p.client, SOL_SOCKET, SO_BINDTODEVICE, dev, sizeof(dev)) ==
          0);
  REQUIRE(connect(p.client, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  auto f = ReadSocketFacts(p.client);
  REQUIRE(f.ok());
  CHECK(f->bound_interface == "lo");
  CHECK(f->interface == "lo");
}

TEST_CASE("not a connected socket: a clear error") {
  CHECK_FALSE(ReadSocketFacts(-1).ok());
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  auto f = ReadSocketFacts(s);
  CHECK_FALSE(f.ok());
  CHECK(std::string(f.status().message()).find("not connected") !=
        std::string::npos);
  close(s);
}

}  // namespace
}  // namespace mpio
