#include "engine/config/address.h"

#include <arpa/inet.h>
#include <net/if.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mpio {
namespace {

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": ", why));
}

bool IsHostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.' || c == '_';
}

absl::Status CheckHost(absl::string_view text, absl::string_view host,
                       bool ipv6) {
  std::string h(host);
  if (ipv6) {
    in6_addr a6;
    if (inet_pton(AF_INET6, h.c_str(), &a6) != 1) {
      return Bad(text, absl::StrCat("\"", host, "\" is not an IPv6 address"));
    }
    return absl::OkStatus();
  }
  if (host.empty()) return Bad(text, "no host");
  bool numeric = true;
  for (char c : host) {
    if (!IsHostNameChar(c)) {
      return Bad(text, absl::StrCat("\"", host,
                                    "\" is not an IP address or host name"));
    }
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '.') {
      numeric = false;
    }
  }
  in_addr a4;
  if (numeric && inet_pton(AF_INET, h.c_str(), &a4) != 1) {
    return Bad(text, absl::StrCat("\"", host, "\" is not an IPv4 address"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ParsePort(absl::string_view text, absl::string_view port) {
  if (port.empty() || port.size() > 5) {
    return Bad(text, "the port must be a number from 1 to 65535");
  }
  int p = 0;
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return Bad(text, "the port must be a number from 1 to 65535");
    }
    p = p * 10 + (c - '0');
  }
  if (p < 1 || p > 65535) {
    return Bad(text, "the port must be a number from 1 to 65535");
  }
  return p;
}

// Parses `text` into `out`, or says why it is not HOST[:PORT].
absl::Status ParseHostPortInto(absl::string_view text, HostPort& out) {
  absl::string_view rest;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return Bad(text, "missing ']'");
    out.ipv6 = true;
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') {
      return Bad(text, "expected ':PORT' after ']'");
    }
  } else {
    size_t colon = text.find(':');
    if (colon != absl::string_view::npos &&
        text.find(':', colon + 1) != absl::string_view::npos) {
      return Bad(text, "IPv6 addresses go in brackets: \"[fd00::2]:3260\"");
    }
    out.host = std::string(text.substr(0, colon));
    if (colon != absl::string_view::npos) rest = text.substr(colon);
  }
  absl::Status host_ok = CheckHost(text, out.host, out.ipv6);
  if (!host_ok.ok()) return host_ok;
  if (!rest.empty()) {
    absl::StatusOr<int> port = ParsePort(text, rest.substr(1));
    if (!port.ok()) return port.status();
    out.port = *port;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  HostPort out;
  absl::Status s = ParseHostPortInto(text, out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<HostPort> ParseListenAddress(absl::string_view text) {
  absl::StatusOr<HostPort> hp = ParseHostPort(text);
  if (!hp.ok()) return hp;
  if (hp->port == 0) {
    return Bad(text, "expected HOST:PORT, e.g. \"127.0.0.1:10809\"");
  }
  return hp;
}

absl::StatusOr<PortalSpec> ParsePortal(absl::string_view text) {
  // The interface comes after the address, so look for '%' only past a
  // closing bracket: "[fe80::1%eth0]" is a zone id, which we do not take.
  size_t search_from = 0;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close != absl::string_view::npos) search_from = close;
  }
  size_t pct = text.find('%', search_from);
  PortalSpec spec;
  spec.address = std::string(text.substr(0, pct));
  if (pct != absl::string_view::npos) {
    spec.interface = std::string(text.substr(pct + 1));
    if (spec.interface.empty() || spec.interface.size() >= IFNAMSIZ) {
      return Bad(text, absl::StrCat("the interface after '%' must be 1 to ",
                                    IFNAMSIZ - 1, " characters"));
    }
    for (char c : spec.interface) {
      if (!IsHostNameChar(c) && c != ':') {
        return Bad(text, absl::StrCat("\"", spec.interface,
                                      "\" is not an interface name"));
      }
    }
  }
  if (spec.address.empty()) {
    return Bad(text,
               "expected IP[:PORT][%IFACE], e.g. \"198.18.0.2:3260%eth1\"");
  }
  HostPort hp;
  absl::Status s = ParseHostPortInto(spec.address, hp);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.message(), " (expected IP[:PORT][%IFACE])"));
  }
  return spec;
}

std::string PortalKey(const PortalSpec& portal) {
  absl::StatusOr<HostPort> hp = ParseHostPort(portal.address);
  if (!hp.ok()) return absl::StrCat(portal.address, "%", portal.interface);
  std::string host = hp->ipv6 ? absl::StrCat("[", hp->host, "]") : hp->host;
  return absl::StrCat(absl::AsciiStrToLower(host), ":",
                      hp->port == 0 ? kIscsiDefaultPort : hp->port, "%",
                      portal.interface);
}

}  // namespace mpio
