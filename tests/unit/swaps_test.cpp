// /proc/swaps on fixture trees. The fixture host has 2097148 kB of swap, 1835004 kB
// free, in /dev/sda3 (priority -2) and /swapfile.
#include <gtest/gtest.h>

#include <cerrno>

#include "emulation/container.hpp"
#include "read_view.hpp"
#include "handlers/families.hpp"
#include "handlers/resources.hpp"
#include "fixture_trees.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;
using namespace ecifs::emulation;
using namespace ecifs::test_fixtures;
using namespace ecifs::handlers;

namespace {

const std::string header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
// The host's first area, padded to 40 columns as swap_show does.
const std::string sda3 = "/dev/sda3                               partition\t";

Cgroup v1(const std::string& memory) {
    CgroupPaths paths;
    paths.memory = v1_dir("memory", memory);
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative) {
    CgroupPaths paths;
    paths.memory = v2_dir(relative);
    return Cgroup(paths);
}

std::string show(const Cgroup& cgroup) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, cgroup});
    std::string out;
    EXPECT_EQ(read_view("proc/swaps", {container}, out), 0);
    return out;
}

}  // namespace

TEST(Swaps, TheContainersSwapLimitAndUse) {
    // v2: memory.swap.max 256 MiB, memory.swap.current 10 MiB.
    EXPECT_EQ(show(v2("/system.slice/docker-limited.scope")), header + sda3 + "262144\t\t10240\t\t-2\n");
    // v1: memsw 1 GiB - memory 512 MiB; memsw usage 210 MiB - memory usage 200 MiB.
    EXPECT_EQ(show(v1("/docker/limited")), header + sda3 + "524288\t\t10240\t\t-2\n");
}

TEST(Swaps, NoLimitShowsTheHostsSizeAndTheContainersUse) {
    EXPECT_EQ(show(v2("/system.slice/docker-nolimit.scope")), header + sda3 + "2097148\t\t0\t\t-2\n");
    EXPECT_EQ(show(v1("/docker/nolimit")), header + sda3 + "2097148\t\t0\t\t-2\n");
}

TEST(Swaps, LimitAboveTheHostKeepsTheHostsSize) {
    EXPECT_EQ(show(v1("/docker/big")), header + sda3 + "1048576\t\t0\t\t-2\n");  // memsw 65 GiB - 64 GiB
}

TEST(Swaps, AncestorsAndUnaccountedSwap) {
    // v1 tight/child has no memsw files: swap is not accounted, the host's use shows,
    // as in /proc/meminfo.
    EXPECT_EQ(show(v1("/tight/child")), header + sda3 + "2097148\t\t262144\t\t-2\n");
    EXPECT_EQ(show(v2("/tight.slice/child.scope")), header + sda3 + "2097148\t\t0\t\t-2\n");
}

TEST(Swaps, NoSwapAllowedIsTheHeaderOnly) {
    // docker-over: memory.swap.max 0; v1 over: memsw limit = memory limit.
    EXPECT_EQ(show(v2("/system.slice/docker-over.scope")), header);
    EXPECT_EQ(show(v1("/docker/over")), header);
}

TEST(Swaps, RenderLikeSwapShow) {
    // Sizes of 10000000 kB and more lose their second tab; use above the size saturates.
    EXPECT_EQ(render_swaps(header + "/swapfile                               file\t\t1048572\t\t0\t\t-3\n",
                           16ull << 30, 17ull << 30),
              header + "/swapfile                               file\t\t16777216\t16777216\t-3\n");
    // A name of 40 characters or more is followed by one space.
    const std::string long_name(44, 'x');
    EXPECT_EQ(render_swaps(header + long_name + " partition\t10\t\t0\t\t5\n", 8192, 1024),
              header + long_name + " partition\t8\t\t1\t\t5\n");
    EXPECT_EQ(render_swaps(header, 0, 0), header);
}

TEST(Swaps, FailsClosed) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/swaps", {container}, out), EIO);
    container.set_init({42, 0, v2("/gone.scope")});
    EXPECT_EQ(read_view("proc/swaps", {container}, out), EIO);
}
