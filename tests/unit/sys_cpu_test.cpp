// /sys/devices/system/cpu on the fixture host's tree (tests/fixtures/host/sys): 8 CPUs,
// CPU k in package (k%4)/2, core 0 or 4 (k odd), its thread sibling k^4; isolated 6.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "emulation/container.hpp"
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

struct Tree {
    Tree(Cgroup cgroup, uid_t root_uid = 100000, const Host& host = fixture_host) : container("c1", root_uid, root_uid, host) {
        container.set_init({42, 0, std::move(cgroup)});
    }
    Context ctx() const { return {container}; }

    std::string read(std::string_view path) const {
        std::string out;
        EXPECT_EQ(sys_cpu().read(ctx(), path, out), 0) << path;
        return out;
    }
    std::vector<std::string> list(std::string_view dir) const {
        std::vector<std::pair<std::string, NodeInfo>> entries;
        EXPECT_EQ(sys_cpu().list(ctx(), dir, entries), 0);
        std::vector<std::string> names;
        for (const auto& [name, info] : entries) names.push_back(name);
        std::sort(names.begin(), names.end());
        return names;
    }

    Container container;
};

const std::vector<std::string> top_level_but_cpus = {"cpufreq", "isolated", "kernel_max", "modalias", "offline", "online",
                                                     "possible", "present", "smt", "vulnerabilities"};

std::vector<std::string> top_level(int cpus) {
    auto names = top_level_but_cpus;
    for (int k = 0; k < cpus; ++k) names.push_back("cpu" + std::to_string(k));
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST(SysCpu, CpusetTwoThreeIsCpuZeroAndOne) {
    for (const auto& cgroup : {v1("/docker/set23", "/docker/nolimit"), v2("/system.slice/docker-set23.scope")}) {
        const Tree t(cgroup);
        EXPECT_EQ(t.list(""), top_level(2));
        for (const auto* file : {"online", "present", "possible"}) EXPECT_EQ(t.read(file), "0-1\n");
        EXPECT_EQ(t.read("offline"), "\n");
        EXPECT_EQ(t.read("isolated"), "\n");  // host CPU 6 is not the container's
        EXPECT_EQ(t.read("kernel_max"), "8191\n");
        // cpu0 is host CPU 2 (package 1, core 0), cpu1 host CPU 3 (package 1, core 4).
        EXPECT_EQ(t.read("cpu0/topology/physical_package_id"), "1\n");
        EXPECT_EQ(t.read("cpu0/topology/core_id"), "0\n");
        EXPECT_EQ(t.read("cpu1/topology/core_id"), "1\n");
        EXPECT_EQ(t.read("cpu0/topology/thread_siblings_list"), "0\n");  // host 2,6
        EXPECT_EQ(t.read("cpu0/topology/thread_siblings"), "1\n");       // host 44
        EXPECT_EQ(t.read("cpu1/topology/core_siblings_list"), "0-1\n");  // host 2-3,6-7
        EXPECT_EQ(t.read("cpu1/topology/core_siblings"), "3\n");         // host cc
        EXPECT_EQ(t.read("cpu1/cache/index0/shared_cpu_list"), "1\n");   // host 3,7
        EXPECT_EQ(t.read("cpu1/online"), "1\n");
        EXPECT_EQ(t.read("cpufreq/policy2/related_cpus"), "0\n");
        EXPECT_EQ(t.read("cpufreq/policy5/related_cpus"), "\n");
        EXPECT_EQ(t.list("cpu0"), (std::vector<std::string>{"cache", "online", "subsystem", "topology", "uevent"}));
    }
}

TEST(SysCpu, HiddenCpusAreNotThere) {
    const Tree t(v2("/system.slice/docker-set23.scope"));
    NodeInfo info;
    EXPECT_EQ(sys_cpu().stat(t.ctx(), "cpu2", info), ENOENT);
    EXPECT_EQ(sys_cpu().stat(t.ctx(), "cpu2/topology/core_id", info), ENOENT);
    std::string out;
    EXPECT_EQ(sys_cpu().read(t.ctx(), "cpu7/online", out), ENOENT);
    EXPECT_EQ(sys_cpu().stat(t.ctx(), "cpu0/nothing", info), ENOENT);
}

TEST(SysCpu, KindsAndModesAreTheHosts) {
    const Tree t(v2("/system.slice/docker-set23.scope"));
    NodeInfo info;
    ASSERT_EQ(sys_cpu().stat(t.ctx(), "", info), 0);
    EXPECT_TRUE(info.is_dir);
    ASSERT_EQ(sys_cpu().stat(t.ctx(), "cpu1", info), 0);
    EXPECT_TRUE(info.is_dir);
    ASSERT_EQ(sys_cpu().stat(t.ctx(), "cpu1/subsystem", info), 0);
    EXPECT_TRUE(info.is_symlink);
    ASSERT_EQ(sys_cpu().stat(t.ctx(), "online", info), 0);
    EXPECT_FALSE(info.is_dir || info.is_symlink);
    struct stat st {};
    ASSERT_EQ(::stat((fixtures / "host/sys/devices/system/cpu/online").c_str(), &st), 0);
    EXPECT_EQ(info.mode, st.st_mode & 07777);
    std::string link;
    ASSERT_EQ(sys_cpu().readlink(t.ctx(), "cpu1/subsystem", link), 0);
    EXPECT_EQ(link, "../../../../bus/cpu");
    EXPECT_EQ(sys_cpu().readlink(t.ctx(), "online", link), EINVAL);
    EXPECT_EQ(sys_cpu().write(t.ctx(), "cpu1/online", "0"), EACCES);
}

TEST(SysCpu, HalfACpuOfQuotaIsOneCpu) {
    for (const auto& cgroup : {v1("/docker/all", "/docker/q50"), v2("/system.slice/docker-over.scope")}) {
        const Tree t(cgroup);
        EXPECT_EQ(t.list(""), top_level(1));
        EXPECT_EQ(t.read("possible"), "0\n");
        EXPECT_EQ(t.read("cpu0/topology/thread_siblings_list"), "0\n");  // host 0,4: 4 is hidden
        EXPECT_EQ(t.read("cpu0/topology/thread_siblings"), "1\n");
    }
}

TEST(SysCpu, AncestorQuotaTighterThanTheLeaf) {
    // v2 tight.slice: cpuset 4-6, 1 CPU of quota: host CPU 4 (package 0, core 0).
    const Tree t(v2("/tight.slice/child.scope"));
    EXPECT_EQ(t.read("online"), "0\n");
    EXPECT_EQ(t.read("cpu0/topology/core_siblings_list"), "0\n");
    EXPECT_EQ(Tree(v1("/docker/all", "/capped/child")).read("present"), "0\n");
}

TEST(SysCpu, NoLimitIsTheHostsTreeWithDenseCoreIds) {
    for (const auto& cgroup : {v1("/docker/all", "/docker/nolimit"), v2("/system.slice/docker-nolimit.scope")}) {
        const Tree t(cgroup);
        EXPECT_EQ(t.list(""), top_level(8));
        EXPECT_EQ(t.read("online"), "0-7\n");
        EXPECT_EQ(t.read("isolated"), "6\n");
        EXPECT_EQ(t.read("cpu5/topology/core_id"), "1\n");  // host core 4, the second of package 0
        EXPECT_EQ(t.read("cpu0/topology/thread_siblings"), "11\n");
        EXPECT_EQ(t.read("cpu6/topology/core_siblings"), "cc\n");
        EXPECT_EQ(t.read("cpu6/topology/core_siblings_list"), "2-3,6-7\n");
    }
}

TEST(SysCpu, RenumberListsAndMasks) {
    EXPECT_EQ(renumber_cpu_list("4-5,7\n", {4, 5, 7}), "0-2");
    EXPECT_EQ(renumber_cpu_list("0-3\n", {4, 5, 7}), "");
    EXPECT_EQ(renumber_cpu_mask("a0\n", {5, 7}), "3");
    EXPECT_EQ(renumber_cpu_mask("00000000,00000000,000000ff\n", {1, 3}), "3");
    CpuList forty(40);
    for (int k = 0; k < 40; ++k) forty[static_cast<size_t>(k)] = k + 24;
    EXPECT_EQ(renumber_cpu_mask("ff,ffffffff,ffffffff\n", forty), "ff,ffffffff");
    EXPECT_EQ(renumber_cpu_mask("00000000,ff000000\n", forty), "00,000000ff");
}

TEST(SysCpu, FilesOnlyTheHostsRootReadsStaySo) {
    // A copy of the tree with one root-only attribute, as sysfs has (e.g. cpufreq's
    // cpuinfo_cur_freq): a user-namespaced root is refused it, as by the kernel.
    const auto root = fs::temp_directory_path() / ("ecifs-sys-cpu-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::copy(fixtures / "host", root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    const auto secret = root / "sys/devices/system/cpu/cpu2/topology/core_id";
    fs::permissions(secret, fs::perms::owner_read);
    const Host host{root / "proc", root / "sys"};
    std::string out;
    EXPECT_EQ(sys_cpu().read(Tree(v2("/system.slice/docker-set23.scope"), 100000, host).ctx(), "cpu0/topology/core_id", out), EACCES);
    // Without a user namespace the container's root is the host's.
    EXPECT_EQ(sys_cpu().read(Tree(v2("/system.slice/docker-set23.scope"), 0, host).ctx(), "cpu0/topology/core_id", out), 0);
    fs::remove_all(root);
}

TEST(SysCpu, NotStartedFails) {
    Container container("c1", 0, 0, fixture_host);
    NodeInfo info;
    EXPECT_EQ(sys_cpu().stat({container}, "online", info), EIO);
}

// /sys/devices/system/node on the fixture host: node0 holds CPUs 0-3, node1 CPUs 4-7.
TEST(SysNode, NodesListOnlyTheContainersCpusRenumbered) {
    for (const auto& cgroup : {v1("/docker/set23", "/docker/nolimit"), v2("/system.slice/docker-set23.scope")}) {
        const Tree t(cgroup);
        const Context ctx = t.ctx();
        std::string out;
        ASSERT_EQ(sys_node().read(ctx, "node0/cpulist", out), 0);
        EXPECT_EQ(out, "0-1\n");  // host CPUs 2 and 3
        ASSERT_EQ(sys_node().read(ctx, "node0/cpumap", out), 0);
        EXPECT_EQ(out, "3\n");
        ASSERT_EQ(sys_node().read(ctx, "node1/cpulist", out), 0);
        EXPECT_EQ(out, "\n");  // as the kernel prints a node without CPUs
        ASSERT_EQ(sys_node().read(ctx, "node1/cpumap", out), 0);
        EXPECT_EQ(out, "0\n");
        ASSERT_EQ(sys_node().read(ctx, "online", out), 0);
        EXPECT_EQ(out, "0-1\n");  // node numbers stay the host's

        std::vector<std::pair<std::string, NodeInfo>> entries;
        ASSERT_EQ(sys_node().list(ctx, "node0", entries), 0);
        std::vector<std::string> names;
        for (const auto& [name, info] : entries) names.push_back(name);
        std::sort(names.begin(), names.end());
        EXPECT_EQ(names, (std::vector<std::string>{"cpu0", "cpu1", "cpulist", "cpumap", "distance"}));
        entries.clear();
        ASSERT_EQ(sys_node().list(ctx, "node1", entries), 0);
        EXPECT_EQ(entries.size(), 3u);  // no CPU of the container's there

        ASSERT_EQ(sys_node().readlink(ctx, "node0/cpu1", out), 0);
        EXPECT_EQ(out, "../../cpu/cpu1");  // the host's link to cpu3, under its new number
        NodeInfo info;
        EXPECT_EQ(sys_node().stat(ctx, "node0/cpu2", info), ENOENT);
        EXPECT_EQ(sys_node().stat(ctx, "node1/cpu0", info), ENOENT);
        EXPECT_EQ(sys_node().write(ctx, "node0/cpulist", "0\n"), EACCES);
    }
}
