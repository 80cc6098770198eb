// /proc/cpuinfo on fixture trees: the host has 8 CPUs in 2 packages of 2 cores with 2
// threads each (tests/fixtures/host/proc/cpuinfo): CPU k is in package (k%4)/2, core
// id 0 or 4 (k odd), thread k/4, apicid package*16 + core*2 + thread.
#include <gtest/gtest.h>

#include <cerrno>

#include <fmt/format.h>

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

Cgroup v1(const std::string& cpuset, const std::string& cpu) {
    CgroupPaths paths;
    paths.cpuset = v1_dir("cpuset", cpuset);
    paths.cpu = v1_dir("cpu", cpu);
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative) {
    return v2_cgroup(relative);
}

std::string show(const Cgroup& cgroup) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, cgroup});
    std::string out;
    EXPECT_EQ(read_view("proc/cpuinfo", {container}, out), 0);
    return out;
}

// The expected block of the container's CPU `processor`: host CPU data, renumbered fields.
std::string block(int processor, int package, int siblings, int core_id, int cores, int apicid) {
    return fmt::format(
        "processor\t: {}\n"
        "vendor_id\t: GenuineIntel\n"
        "cpu family\t: 6\n"
        "model\t\t: 85\n"
        "model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\n"
        "stepping\t: 7\n"
        "microcode\t: 0x5003604\n"
        "cpu MHz\t\t: 2100.000\n"
        "cache size\t: 28160 KB\n"
        "physical id\t: {}\n"
        "siblings\t: {}\n"
        "core id\t\t: {}\n"
        "cpu cores\t: {}\n"
        "apicid\t\t: {}\n"
        "initial apicid\t: {}\n"
        "fpu\t\t: yes\n"
        "fpu_exception\t: yes\n"
        "cpuid level\t: 22\n"
        "wp\t\t: yes\n"
        "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov ht\n"
        "bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass\n"
        "bogomips\t: 4200.00\n"
        "clflush size\t: 64\n"
        "cache_alignment\t: 64\n"
        "address sizes\t: 46 bits physical, 48 bits virtual\n"
        "power management:\n"
        "\n",
        processor, package, siblings, core_id, cores, apicid, apicid);
}

}  // namespace

TEST(Cpuinfo, NoLimitShowsEveryHostCpuWithDenseCoreIds) {
    std::string expected;
    for (int k = 0; k < 8; ++k) expected += block(k, (k % 4) / 2, 4, k % 2, 2, ((k % 4) / 2) * 16 + (k % 2) * 8 + k / 4);
    EXPECT_EQ(show(v1("/docker/all", "/docker/nolimit")), expected);
    EXPECT_EQ(show(v2("/system.slice/docker-nolimit.scope")), expected);
    // The whole host file, but for the core ids (4 -> 1).
    EXPECT_EQ(render_cpuinfo(fixture_host.read_proc("cpuinfo"), {0, 1, 2, 3, 4, 5, 6, 7}), expected);
}

TEST(Cpuinfo, CpusetTwoThreeIsRenumberedFromZero) {
    // Host CPUs 2 and 3: package 1, cores 0 and 4.
    const auto expected = block(0, 1, 2, 0, 2, 16) + block(1, 1, 2, 1, 2, 24);
    EXPECT_EQ(show(v1("/docker/set23", "/docker/nolimit")), expected);
    EXPECT_EQ(show(v2("/system.slice/docker-set23.scope")), expected);
}

TEST(Cpuinfo, HalfACpuOfQuotaShowsOneCpu) {
    const auto expected = block(0, 0, 1, 0, 1, 0);
    EXPECT_EQ(show(v1("/docker/all", "/docker/q50")), expected);
    EXPECT_EQ(show(v2("/system.slice/docker-over.scope")), expected);  // 50000/100000
}

TEST(Cpuinfo, AncestorQuotaTighterThanTheLeaf) {
    EXPECT_EQ(show(v1("/docker/all", "/capped/child")), block(0, 0, 1, 0, 1, 0));
    // tight.slice: cpuset 4-6 and 1 CPU of quota; its child asks for 3.
    EXPECT_EQ(show(v2("/tight.slice/child.scope")), block(0, 0, 1, 0, 1, 1));
}

TEST(Cpuinfo, SiblingsAndCoresCountPerPackage) {
    // Host CPUs 4, 5 (package 0, cores 0 and 4, second threads) and 7 (package 1, core 4).
    const auto expected = block(0, 0, 2, 0, 2, 1) + block(1, 0, 2, 1, 2, 9) + block(2, 1, 1, 0, 1, 25);
    EXPECT_EQ(show(v1("/docker/old", "/docker/nolimit")), expected);
}

TEST(Cpuinfo, ThreadsOfOneCoreShareTheirCoreId) {
    // Host CPUs 1 and 5 are the two threads of package 0's core 4.
    const auto expected = block(0, 0, 2, 0, 1, 8) + block(1, 0, 2, 0, 1, 9);
    EXPECT_EQ(render_cpuinfo(fixture_host.read_proc("cpuinfo"), {1, 5}), expected);
}

TEST(Cpuinfo, BlocksWithoutAProcessorAreKept) {
    const std::string host =
        "processor\t: 0\nBogoMIPS\t: 48.00\n\n"
        "processor\t: 1\nBogoMIPS\t: 48.00\n\n"
        "Hardware\t: BCM2835\nRevision\t: c03111\n\n";
    EXPECT_EQ(render_cpuinfo(host, {1}), "processor\t: 0\nBogoMIPS\t: 48.00\n\nHardware\t: BCM2835\nRevision\t: c03111\n\n");
}

TEST(Cpuinfo, AVisibleCpuMissingFromTheHostFileFails) {
    EXPECT_THROW(render_cpuinfo(fixture_host.read_proc("cpuinfo"), {8}), std::runtime_error);
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/cpuinfo", {container}, out), EIO);  // not started
}
