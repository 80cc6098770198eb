#pragma once
// The fixture trees of tests/fixtures: a host's /proc and /sys, and cgroup v1 and v2
// hierarchies in the kernel's own file formats.
#include <filesystem>
#include <string>
#include <string_view>

#include "cgroup/cgroup.hpp"
#include "emulation/host.hpp"

namespace ecifs::test_fixtures {

inline const std::filesystem::path fixtures = ECIFS_FIXTURES_DIR;
inline const emulation::Host fixture_host{fixtures / "host/proc", fixtures / "host/sys"};

// One controller's cgroup in the v1 tree, e.g. v1_dir("memory", "/docker/limited").
inline cgroup::CgroupDir v1_dir(std::string_view controller, const std::string& relative) {
    return {cgroup::CgroupVersion::v1, fixtures / "cgroup-v1" / controller, relative};
}

// A cgroup in the v2 tree.
inline cgroup::CgroupDir v2_dir(const std::string& relative) {
    return {cgroup::CgroupVersion::v2, fixtures / "cgroup-v2", relative};
}

// A cgroup of a pure v2 host: every controller in the one directory.
inline cgroup::Cgroup v2_cgroup(const std::string& relative) {
    const auto dir = v2_dir(relative);
    return cgroup::Cgroup(cgroup::CgroupPaths{dir, dir, dir, dir, dir, dir});
}

}  // namespace ecifs::test_fixtures
