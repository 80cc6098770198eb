// Visible CPUs, as /sys/devices/system/cpu/online shows them (the sys_cpu subtree).
#include <gtest/gtest.h>

#include <cerrno>

#include "emulation/container.hpp"
#include "handlers/cpu.hpp"
#include "handlers/families.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;
using namespace ecifs::emulation;
using namespace ecifs::handlers;

namespace {

const fs::path fixtures = ECIFS_FIXTURES_DIR;
const Host fixture_host{fixtures / "host/proc", fixtures / "host/sys"};  // CPUs 0-7 online

// v1 with the given cpuset and cpu cgroups; an empty name leaves the controller out.
Cgroup v1(const std::string& cpuset, const std::string& cpu) {
    CgroupPaths paths;
    if (!cpuset.empty()) paths.cpuset = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpuset", cpuset};
    if (!cpu.empty()) paths.cpu = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpu", cpu};
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative, const std::string& tree = "cgroup-v2") {
    const CgroupDir dir{CgroupVersion::v2, fixtures / tree, relative};
    return Cgroup(CgroupPaths{dir, dir, dir, dir, dir, dir});
}

std::string online(const Cgroup& cgroup) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, cgroup});
    std::string out;
    EXPECT_EQ(sys_cpu().read({container}, "online", out), 0);
    return out;
}

}  // namespace

TEST(VisibleCpusV1, QuotaBelowTheCpusetKeepsTheFirstCeilQuota) {
    EXPECT_EQ(visible_cpus(v1("/docker/set03", "/docker/q150"), fixture_host), (CpuList{0, 1}));
    EXPECT_EQ(online(v1("/docker/set03", "/docker/q150")), "0-1\n");
}

TEST(VisibleCpusV1, QuotaAboveTheCpusetKeepsTheCpuset) {
    EXPECT_EQ(visible_cpus(v1("/docker/set03", "/docker/q400"), fixture_host), (CpuList{0, 1, 2, 3}));
    EXPECT_EQ(online(v1("/docker/set03", "/docker/q400")), "0-3\n");
}

TEST(VisibleCpusV1, CpusetIsRenumberedFromZero) {
    EXPECT_EQ(visible_cpus(v1("/docker/set23", "/docker/nolimit"), fixture_host), (CpuList{2, 3}));
    EXPECT_EQ(online(v1("/docker/set23", "/docker/nolimit")), "0-1\n");
    EXPECT_EQ(visible_cpus(v1("/docker/old", "/docker/nolimit"), fixture_host), (CpuList{4, 5, 7}));
    EXPECT_EQ(online(v1("/docker/old", "/docker/nolimit")), "0-2\n");
}

TEST(VisibleCpusV1, HalfACpuIsOneCpu) {
    EXPECT_EQ(visible_cpus(v1("/docker/all", "/docker/q50"), fixture_host), (CpuList{0}));
    EXPECT_EQ(online(v1("/docker/all", "/docker/q50")), "0\n");
}

TEST(VisibleCpusV1, ParentQuotaApplies) { EXPECT_EQ(online(v1("/docker/all", "/capped/child")), "0\n"); }

TEST(VisibleCpusV1, NoCpusetFallsBackToTheHostsOnlineCpus) {
    EXPECT_EQ(visible_cpus(v1("", "/docker/q150"), fixture_host), (CpuList{0, 1}));
    EXPECT_EQ(online(v1("", "")), "0-7\n");
}

TEST(VisibleCpusV2, QuotaBelowTheCpuset) {
    EXPECT_EQ(visible_cpus(v2("/system.slice/docker-limited.scope"), fixture_host), (CpuList{0, 1}));
    EXPECT_EQ(online(v2("/system.slice/docker-limited.scope")), "0-1\n");
}

TEST(VisibleCpusV2, QuotaAboveTheCpuset) {
    EXPECT_EQ(online(v2("/system.slice/docker-big.scope")), "0-3\n");  // 4 CPUs of quota, cpuset 0-3
}

TEST(VisibleCpusV2, CpusetIsRenumberedFromZero) {
    EXPECT_EQ(visible_cpus(v2("/system.slice/docker-set23.scope"), fixture_host), (CpuList{2, 3}));
    EXPECT_EQ(online(v2("/system.slice/docker-set23.scope")), "0-1\n");
}

TEST(VisibleCpusV2, HalfACpuIsOneCpu) { EXPECT_EQ(online(v2("/system.slice/docker-over.scope")), "0\n"); }

TEST(VisibleCpusV2, AncestorsCpusetAndQuotaApply) {
    // cpuset 4-6 from the parent (not delegated to the leaf), parent quota 1 CPU.
    EXPECT_EQ(visible_cpus(v2("/tight.slice/child.scope"), fixture_host), (CpuList{4}));
    EXPECT_EQ(online(v2("/tight.slice/child.scope")), "0\n");
}

TEST(VisibleCpusV2, NoLimits) {
    EXPECT_EQ(online(v2("/system.slice/docker-nolimit.scope")), "0-7\n");
    EXPECT_EQ(online(v2("/leaf", "cgroup-v2-bare")), "0-7\n");  // no cpuset, no cpu controller
}

TEST(SysCpuOnline, EioBeforeTheContainerStarts) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(sys_cpu().read({container}, "online", out), EIO);
}

TEST(Host, OnlineCpus) {
    EXPECT_EQ(fixture_host.online_cpus(), (CpuList{0, 1, 2, 3, 4, 5, 6, 7}));
    EXPECT_FALSE(real_host().online_cpus().empty());
}
