// /proc/diskstats on fixture trees: the host lists loop0, sda, sda1, sda2 and nvme0n1
// with 17 counters each; the container read 1 MiB in 100 requests from sda (8:0), wrote
// 4 MiB in 200, discarded 512 bytes once, and read 4 KiB from nvme0n1 (259:0).
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

Cgroup v1(const std::string& blkio) {
    CgroupPaths paths;
    paths.blkio = v1_dir("blkio", blkio);
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative) {
    return v2_cgroup(relative);
}

std::string show(const Cgroup& cgroup) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, cgroup});
    std::string out;
    EXPECT_EQ(read_view("proc/diskstats", {container}, out), 0);
    return out;
}

const std::string untouched =
    "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    "   8       0 sda 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    "   8       1 sda1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    "   8       2 sda2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    " 259       0 nvme0n1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

}  // namespace

TEST(Diskstats, TheContainersIoPerDeviceOthersZero) {
    const std::string expected =
        "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "   8       0 sda 100 0 2048 0 200 0 8192 0 0 0 0 1 0 1 0 0 0\n"
        "   8       1 sda1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "   8       2 sda2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        " 259       0 nvme0n1 1 0 8 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    EXPECT_EQ(show(v2("/system.slice/docker-res.scope")), expected);     // io.stat
    EXPECT_EQ(show(v1("/docker/res")), expected);                         // the _recursive files
}

TEST(Diskstats, V1WithoutRecursiveFilesUsesTheCgroupsOwn) {
    EXPECT_EQ(show(v1("/docker/old")),
              "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
              "   8       0 sda 2 0 16 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
              "   8       1 sda1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
              "   8       2 sda2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
              " 259       0 nvme0n1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
}

TEST(Diskstats, AContainerThatNeverDidIoShowsEveryDeviceWithZeros) {
    // An io.stat without lines (no I/O yet) gives no devices: every line is zeros.
    Cgroup cgroup = v2("/system.slice/docker-res.scope/inner");
    EXPECT_EQ(render_diskstats(fixture_host.read_proc("diskstats"), {}), untouched);
    EXPECT_EQ(cgroup.io_stats(), std::nullopt);  // no io.stat at all: no figures
}

TEST(Diskstats, OlderKernelsFieldCountIsKept) {
    // Linux 4.18-5.4: 14 counters (no flush fields); before: 11.
    const std::string host = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14\n   8      16 sdb 1 2 3 4 5 6 7 8 9 10 11\n";
    const std::vector<IoStat> io = {{.major = 8, .minor = 16, .rbytes = 1024, .wbytes = 0, .dbytes = 0, .rios = 2, .wios = 0, .dios = 0}};
    EXPECT_EQ(render_diskstats(host, io), "   8       0 sda 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n   8      16 sdb 2 0 2 0 0 0 0 0 0 0 0\n");
}

TEST(Diskstats, FailsClosed) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/diskstats", {container}, out), EIO);
    container.set_init({42, 0, v2("/system.slice/docker-nolimit.scope")});  // no io.stat
    EXPECT_EQ(read_view("proc/diskstats", {container}, out), EIO);
    container.set_init({42, 0, Cgroup{}});  // no blkio controller
    EXPECT_EQ(read_view("proc/diskstats", {container}, out), EIO);
    EXPECT_THROW(render_diskstats("garbage\n", {}), std::runtime_error);
}
