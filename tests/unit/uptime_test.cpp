// /proc/uptime and the host facts it is computed from.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>

#include "emulation/container.hpp"
#include "read_view.hpp"
#include "handlers/families.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;
using namespace ecifs::emulation;
using namespace ecifs::handlers;

namespace {

const fs::path fixtures = ECIFS_FIXTURES_DIR;
const Host fixture_host{fixtures / "host/proc", fixtures / "host/sys"};  // uptime 350735.47, CPUs 0-7

// v1: 4 CPUs (cpuset 0-3), no quota, 12.345678901 s of CPU used.
Cgroup v1_four_cpus() {
    CgroupPaths paths;
    paths.cpu = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpu", "/docker/nolimit"};
    paths.cpuset = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpuset", "/docker/set03"};
    paths.cpuacct = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpuacct", "/docker/c1"};
    return Cgroup(paths);
}

// v2: cpuset 0-3 with 1.5 CPUs of quota = 2 CPUs, usage_usec 12345678.
Cgroup v2_two_cpus() {
    const CgroupDir dir{CgroupVersion::v2, fixtures / "cgroup-v2", "/system.slice/docker-limited.scope"};
    return Cgroup(CgroupPaths{dir, dir, dir, dir, dir, dir});
}

std::string uptime(const Cgroup& cgroup, double start_seconds) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, start_seconds, cgroup});
    std::string out;
    EXPECT_EQ(read_view("proc/uptime", {container}, out), 0);
    return out;
}

}  // namespace

TEST(Uptime, V1IdleIsUptimeTimesCpusLessUsage) {
    // 735.47 s up; idle = 735.47 * 4 - 12.34 = 2929.54.
    EXPECT_EQ(uptime(v1_four_cpus(), 350000.00), "735.47 2929.54\n");
}

TEST(Uptime, V2IdleCountsOnlyTheVisibleCpus) {
    // idle = 735.47 * 2 - 12.34 = 1458.60.
    EXPECT_EQ(uptime(v2_two_cpus(), 350000.00), "735.47 1458.60\n");
}

TEST(Uptime, TruncatesToHundredthsLikeTheKernel) {
    EXPECT_EQ(uptime(v1_four_cpus(), 350000.50), "734.97 2927.54\n");
}

TEST(Uptime, StartAfterTheHostsUptimeIsZeroNotNegative) {
    EXPECT_EQ(uptime(v1_four_cpus(), 400000.00), "0.00 0.00\n");
    EXPECT_EQ(uptime(v2_two_cpus(), 350735.48), "0.00 0.00\n");
}

TEST(Uptime, UsageAboveTheCpuTimeGivesZeroIdle) {
    EXPECT_EQ(uptime(v2_two_cpus(), 350734.47), "1.00 0.00\n");  // 2.00 CPU-s < 12.34 used
}

TEST(Uptime, NoCpuAccountingCountsEverythingAsIdle) {
    CgroupPaths paths;
    paths.cpuset = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpuset", "/docker/set23"};
    EXPECT_EQ(uptime(Cgroup(paths), 350700.00), "35.47 70.94\n");
}

TEST(Uptime, EioBeforeTheContainerStarts) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/uptime", {container}, out), EIO);
}

TEST(Host, UptimeSeconds) { EXPECT_DOUBLE_EQ(fixture_host.uptime_seconds(), 350735.47); }

TEST(Host, ProcessStartSecondsParsesAfterTheLastParenthesis) {
    // comm is "my (odd) cmd"; field 22 (starttime) is 3500017 ticks.
    EXPECT_DOUBLE_EQ(fixture_host.process_start_seconds(4242), 3500017.0 / sysconf(_SC_CLK_TCK));
    EXPECT_THROW(fixture_host.process_start_seconds(999), std::system_error);
}

TEST(Host, RealProcessStartedBeforeNow) {
    const auto start = real_host().process_start_seconds(getpid());
    EXPECT_GT(start, 0);
    EXPECT_LE(start, real_host().uptime_seconds());
}
