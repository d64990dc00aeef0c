// mountinfo parsing: fields, optional fields, octal escapes, stacking.
#include "fuse/mount_point.h"

#include <doctest/doctest.h>
#include <sys/sysmacros.h>

namespace mpio::fuse {
namespace {

TEST_CASE("ParseMountInfo reads mount point, type, source and device") {
  const char* text =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "45 22 0:44 / /tmp/with\\040space rw,nosuid master:3 shared:9 - "
      "fuse.mpio mpio rw,user_id=0\n"
      "46 45 0:47 / /tmp/with\\040space rw - tmpfs none rw\n"
      "garbage line\n";
  std::vector<MountInfoEntry> e = ParseMountInfo(text);
  REQUIRE(e.size() == 3);
  CHECK(e[0].mount_point == "/");
  CHECK(e[0].fs_type == "ext4");
  CHECK(e[0].source == "/dev/sda1");
  CHECK(e[0].device == makedev(8, 1));
  CHECK(e[1].mount_point == "/tmp/with space");
  CHECK(e[1].fs_type == "fuse.mpio");
  CHECK(e[1].source == "mpio");
  CHECK(e[1].device == makedev(0, 44));
  CHECK(e[2].fs_type == "tmpfs");
}

TEST_CASE("FindMount sees the root file system and not a plain directory") {
  std::optional<MountInfoEntry> root = FindMount("/");
  REQUIRE(root.has_value());
  CHECK(!root->fs_type.empty());
  CHECK(!FindMount("/no/such/mount/point/for/mpio").has_value());
}

TEST_CASE("PrepareMountPoint refuses a missing directory and a live mount") {
  std::string canonical;
  absl::Status s = PrepareMountPoint("/no/such/dir/for/mpio", &canonical);
  CHECK(s.code() == absl::StatusCode::kNotFound);
  s = PrepareMountPoint("/proc", &canonical);  // procfs is mounted there
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s.message().find("already a mount point") != std::string::npos);
  s = PrepareMountPoint("/proc/self/..", &canonical);  // resolves to /proc
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mpio::fuse
