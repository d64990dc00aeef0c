#include "engine/device/iovec_slice.h"

#include <doctest/doctest.h>

namespace mpio {
namespace {

TEST_CASE("SliceIovec covers exactly the requested bytes across entries") {
  char a[100], b[50], c[10];
  iovec iov[3] = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
  std::vector<iovec> out;
  SliceIovec(iov, 3, 90, 65, &out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].iov_base == a + 90);
  CHECK(out[0].iov_len == 10);
  CHECK(out[1].iov_base == b);
  CHECK(out[1].iov_len == 50);
  CHECK(out[2].iov_base == c);
  CHECK(out[2].iov_len == 5);
  SliceIovec(iov, 3, 100, 50, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].iov_base == b);
  SliceIovec(iov, 3, 0, 0, &out);
  CHECK(out.empty());
  // Asking past the end gives what exists, never more.
  SliceIovec(iov, 3, 155, 100, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].iov_len == 5);
}

}  // namespace
}  // namespace mpio
