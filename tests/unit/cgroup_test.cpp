// Cgroup resolution (v1, v2, hybrid) and the cgroup readers, on fixture trees that copy
// the kernel's file formats.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "cgroup/cgroup.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;

namespace {

const fs::path fixtures = ECIFS_FIXTURES_DIR;
constexpr uint64_t MiB = 1 << 20;

// A copy of fixtures/proc/<name> in a temporary directory, with @FIXTURES@ in its files
// replaced by the fixtures' absolute path (mountinfo holds absolute mount points).
class ProcTree {
public:
    explicit ProcTree(const std::string& name)
        : root_(ecifs::testing_support::unique_temp_dir("ecifs-proc-" + name) / "proc") {
        const auto source = fixtures / "proc" / name;
        for (const auto& entry : fs::recursive_directory_iterator(source)) {
            const auto target = root_ / fs::relative(entry.path(), source);
            if (entry.is_directory()) {
                fs::create_directories(target);
                continue;
            }
            std::stringstream text;
            text << std::ifstream(entry.path()).rdbuf();
            auto content = text.str();
            for (size_t at; (at = content.find("@FIXTURES@")) != std::string::npos;)
                content.replace(at, 10, fixtures.string());
            fs::create_directories(target.parent_path());
            std::ofstream(target) << content;
        }
    }
    ~ProcTree() { fs::remove_all(root_.parent_path()); }
    const fs::path& root() const { return root_; }

private:
    fs::path root_;
};

void expect_dir(const std::optional<CgroupDir>& dir, CgroupVersion version, const fs::path& mount_root,
                const fs::path& relative) {
    ASSERT_TRUE(dir.has_value());
    EXPECT_EQ(dir->version, version);
    EXPECT_EQ(dir->mount_root, mount_root);
    EXPECT_EQ(dir->relative, relative);
}

Cgroup v1(const std::string& memory, const std::string& cpu = "/", const std::string& cpuset = "/",
          const std::string& cpuacct = "/") {
    CgroupPaths paths;
    paths.memory = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/memory", memory};
    paths.cpu = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpu", cpu};
    paths.cpuset = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpuset", cpuset};
    paths.cpuacct = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/cpuacct", cpuacct};
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative, const std::string& tree = "cgroup-v2") {
    const CgroupDir dir{CgroupVersion::v2, fixtures / tree, relative};
    return Cgroup(CgroupPaths{dir, dir, dir, dir, dir, dir});
}

}  // namespace

// ---- resolution ------------------------------------------------------------------

TEST(ResolveCgroupPaths, HybridHostLikeTheDevMachinesUsesEveryV1Hierarchy) {
    ProcTree proc("hybrid");
    const auto paths = resolve_cgroup_paths(4242, proc.root());
    expect_dir(paths.memory, CgroupVersion::v1, "/sys/fs/cgroup/memory", "/docker/abc");
    expect_dir(paths.cpu, CgroupVersion::v1, "/sys/fs/cgroup/cpu", "/docker/abc");
    expect_dir(paths.cpuacct, CgroupVersion::v1, "/sys/fs/cgroup/cpuacct", "/docker/abc");
    expect_dir(paths.cpuset, CgroupVersion::v1, "/sys/fs/cgroup/cpuset", "/docker/abc");
    expect_dir(paths.blkio, CgroupVersion::v1, "/sys/fs/cgroup/blkio", "/docker/abc");
    expect_dir(paths.pids, CgroupVersion::v1, "/sys/fs/cgroup/pids", "/docker/abc");
}

// A container's cgroup is where its init was at the start: resolved again from the text
// the daemon kept, after systemd moved the init into init.scope.
TEST(ResolveCgroupPaths, FromAKeptTextAfterTheInitMovedBelow) {
    ProcTree proc("hybrid");
    const std::string at_start = read_proc_cgroup(4242, proc.root());
    std::string moved = at_start;
    for (size_t at; (at = moved.find("/docker/abc\n")) != std::string::npos;) moved.replace(at, 12, "/docker/abc/init.scope\n");
    std::ofstream(proc.root() / "4242" / "cgroup") << moved;
    expect_dir(resolve_cgroup_paths(4242, proc.root()).memory, CgroupVersion::v1, "/sys/fs/cgroup/memory",
               "/docker/abc/init.scope");
    const auto kept = resolve_cgroup_paths(at_start, proc.root());
    expect_dir(kept.memory, CgroupVersion::v1, "/sys/fs/cgroup/memory", "/docker/abc");
    expect_dir(kept.pids, CgroupVersion::v1, "/sys/fs/cgroup/pids", "/docker/abc");
    EXPECT_THROW(resolve_cgroup_paths(std::string_view("junk"), proc.root()), std::runtime_error);
}

TEST(ResolveCgroupPaths, HybridHostWithCoMountsMountRootsAndAV2OnlyController) {
    ProcTree proc("hybrid-systemd");
    const auto paths = resolve_cgroup_paths(4242, proc.root());
    // cpu and cpuacct share one hierarchy ("cpu,cpuacct").
    expect_dir(paths.cpu, CgroupVersion::v1, "/sys/fs/cgroup/cpu,cpuacct", "/docker/abc");
    expect_dir(paths.cpuacct, CgroupVersion::v1, "/sys/fs/cgroup/cpu,cpuacct", "/docker/abc");
    // memory is mounted with root /docker (and an escaped space in its mount point).
    expect_dir(paths.memory, CgroupVersion::v1, "/sys/fs/cgroup/mem ory", "/abc");
    // cpuset is mounted twice; the mount of the hierarchy's root shows every ancestor.
    expect_dir(paths.cpuset, CgroupVersion::v1, "/sys/fs/cgroup/cpuset", "/docker/abc");
    // pids is in no v1 hierarchy but enabled in the unified one; blkio is nowhere.
    expect_dir(paths.pids, CgroupVersion::v2, fixtures / "cgroup-unified-pids", "/system.slice/docker-abc.scope");
    EXPECT_FALSE(paths.blkio.has_value());
}

TEST(ResolveCgroupPaths, PureV2HostUsesTheUnifiedDirectoryForEveryController) {
    ProcTree proc("v2");
    const auto paths = resolve_cgroup_paths(4242, proc.root());
    for (const auto* dir : {&paths.memory, &paths.cpu, &paths.cpuacct, &paths.cpuset, &paths.blkio, &paths.pids})
        expect_dir(*dir, CgroupVersion::v2, fixtures / "cgroup-v2", "/system.slice/docker-limited.scope");
}

TEST(ResolveCgroupPaths, V2ControllersMissingFromTheHierarchyAreAbsent) {
    ProcTree proc("v2-bare");
    const auto paths = resolve_cgroup_paths(4242, proc.root());
    expect_dir(paths.memory, CgroupVersion::v2, fixtures / "cgroup-v2-bare", "/leaf");
    expect_dir(paths.pids, CgroupVersion::v2, fixtures / "cgroup-v2-bare", "/leaf");
    expect_dir(paths.cpuacct, CgroupVersion::v2, fixtures / "cgroup-v2-bare", "/leaf");  // cpu.stat is core
    EXPECT_FALSE(paths.cpu.has_value());
    EXPECT_FALSE(paths.cpuset.has_value());
    EXPECT_FALSE(paths.blkio.has_value());
}

TEST(ResolveCgroupPaths, GoneProcessThrows) {
    ProcTree proc("v2");
    EXPECT_THROW(resolve_cgroup_paths(999, proc.root()), std::runtime_error);
}

TEST(ResolveCgroupPaths, NoMountedHierarchyThrows) {
    ProcTree proc("no-cgroup-mount");
    EXPECT_THROW(resolve_cgroup_paths(4242, proc.root()), std::runtime_error);
}

TEST(ResolveCgroupPaths, ThisProcessOnThisHost) {
    const auto paths = resolve_cgroup_paths(getpid());
    ASSERT_TRUE(paths.memory.has_value());
    EXPECT_TRUE(fs::exists(paths.memory->dir()));
}

TEST(CgroupDir, DirAndAncestors) {
    const CgroupDir leaf{CgroupVersion::v1, "/sys/fs/cgroup/memory", "/docker/abc"};
    EXPECT_EQ(leaf.dir(), "/sys/fs/cgroup/memory/docker/abc");
    EXPECT_EQ(leaf.self_and_ancestors(),
              (std::vector<fs::path>{"/sys/fs/cgroup/memory/docker/abc", "/sys/fs/cgroup/memory/docker",
                                     "/sys/fs/cgroup/memory"}));
    const CgroupDir root{CgroupVersion::v2, "/sys/fs/cgroup", "/"};
    EXPECT_EQ(root.dir(), "/sys/fs/cgroup");
    EXPECT_EQ(root.self_and_ancestors(), std::vector<fs::path>{"/sys/fs/cgroup"});
}

// ---- CPU lists -------------------------------------------------------------------

TEST(CpuList, Parses) {
    EXPECT_EQ(parse_cpu_list("0-3,6"), (CpuList{0, 1, 2, 3, 6}));
    EXPECT_EQ(parse_cpu_list("0"), (CpuList{0}));
    EXPECT_EQ(parse_cpu_list(""), CpuList{});
    EXPECT_EQ(parse_cpu_list("\n"), CpuList{});
    EXPECT_EQ(parse_cpu_list(" 0-1\n"), (CpuList{0, 1}));
    EXPECT_EQ(parse_cpu_list("6,0-3,2"), (CpuList{0, 1, 2, 3, 6}));
}

TEST(CpuList, RejectsJunk) {
    for (const auto* junk : {"a", "3-1", "1-", "-1", "1,,2", "0-3 6", "0-999999999"})
        EXPECT_THROW(parse_cpu_list(junk), std::invalid_argument) << junk;
}

TEST(CpuList, FormatsLikeTheKernel) {
    EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 6}), "0-3,6");
    EXPECT_EQ(format_cpu_list({0}), "0");
    EXPECT_EQ(format_cpu_list({}), "");
    EXPECT_EQ(format_cpu_list({0, 1}), "0-1");
    EXPECT_EQ(format_cpu_list({1, 3, 5}), "1,3,5");
}

TEST(CpuList, RoundTrips) {
    for (const auto* list : {"0-3,6", "0", "", "1,3,5-7", "0-63"})
        EXPECT_EQ(format_cpu_list(parse_cpu_list(list)), list);
    EXPECT_EQ(format_cpu_list(parse_cpu_list("  2-3\n")), "2-3");
}

// ---- v1 readers ------------------------------------------------------------------

TEST(CgroupV1, MemoryLimit) {
    EXPECT_EQ(v1("/docker/nolimit").memory_limit(), std::nullopt);  // 9223372036854771712
    EXPECT_EQ(v1("/docker/limited").memory_limit(), 512 * MiB);
    EXPECT_EQ(v1("/docker/big").memory_limit(), 64 * 1024 * MiB);
    EXPECT_EQ(v1("/tight/child").memory_limit(), 256 * MiB);  // the parent is tighter
    EXPECT_EQ(v1("/gone").memory_limit(), std::nullopt);
}

TEST(CgroupV1, MemoryUsageAndHierarchicalStat) {
    const auto cgroup = v1("/docker/limited");
    EXPECT_EQ(cgroup.memory_usage(), 200 * MiB);
    const auto s = cgroup.memory_stat();
    EXPECT_EQ(s.anon, 100 * MiB);  // total_rss, not rss
    EXPECT_EQ(s.file, 90 * MiB);   // total_cache
    EXPECT_EQ(s.active_anon, 34 * MiB);
    EXPECT_EQ(s.inactive_anon, 70 * MiB);
    EXPECT_EQ(s.active_file, 40 * MiB);
    EXPECT_EQ(s.inactive_file, 46 * MiB);
    EXPECT_EQ(s.unevictable, 8192u);
    EXPECT_EQ(s.shmem, 4 * MiB);
    EXPECT_EQ(s.file_mapped, 16 * MiB);
    EXPECT_EQ(s.file_dirty, 1 * MiB);
    EXPECT_EQ(s.file_writeback, 8192u);
    EXPECT_EQ(s.slab_reclaimable, 0u);  // v1 has no slab figures
    EXPECT_EQ(s.slab_unreclaimable, 0u);
    EXPECT_EQ(v1("/gone").memory_usage(), std::nullopt);
    EXPECT_EQ(v1("/gone").memory_stat().anon, 0u);
}

TEST(CgroupV1, SwapIsMemswBeyondMemory) {
    EXPECT_EQ(v1("/docker/limited").swap_limit(), 512 * MiB);  // 1 GiB memsw - 512 MiB
    EXPECT_EQ(v1("/docker/limited").swap_usage(), 10 * MiB);
    EXPECT_EQ(v1("/docker/over").swap_limit(), 0u);
    EXPECT_EQ(v1("/docker/over").swap_usage(), 0u);
    EXPECT_EQ(v1("/docker/nolimit").swap_limit(), std::nullopt);
    EXPECT_EQ(v1("/tight/child").swap_limit(), std::nullopt);  // no memsw files: not accounted
    EXPECT_EQ(v1("/tight/child").swap_usage(), std::nullopt);
}

TEST(CgroupV1, CpuQuotaCpusetAndUsage) {
    EXPECT_DOUBLE_EQ(v1("/", "/docker/q150").cpu_quota().value(), 1.5);
    EXPECT_DOUBLE_EQ(v1("/", "/docker/q50").cpu_quota().value(), 0.5);
    EXPECT_DOUBLE_EQ(v1("/", "/capped/child").cpu_quota().value(), 1.0);  // parent: 50000/50000
    EXPECT_EQ(v1("/", "/docker/nolimit").cpu_quota(), std::nullopt);
    EXPECT_EQ(v1("/", "/", "/docker/set23").cpuset(), (CpuList{2, 3}));
    EXPECT_EQ(v1("/", "/", "/docker/old").cpuset(), (CpuList{4, 5, 7}));  // cpuset.cpus fallback
    EXPECT_EQ(v1("/", "/", "/", "/docker/c1").cpu_usage_ns(), 12345678901u);
    EXPECT_EQ(v1("/", "/", "/", "/gone").cpu_usage_ns(), std::nullopt);
}

// ---- v2 readers ------------------------------------------------------------------

TEST(CgroupV2, MemoryLimit) {
    EXPECT_EQ(v2("/system.slice/docker-nolimit.scope").memory_limit(), std::nullopt);  // "max"
    EXPECT_EQ(v2("/system.slice/docker-limited.scope").memory_limit(), 512 * MiB);
    EXPECT_EQ(v2("/tight.slice/child.scope").memory_limit(), 256 * MiB);
    EXPECT_EQ(v2("/").memory_limit(), std::nullopt);  // the root has no memory.max
}

TEST(CgroupV2, MemoryUsageAndStat) {
    const auto cgroup = v2("/system.slice/docker-limited.scope");
    EXPECT_EQ(cgroup.memory_usage(), 200 * MiB);
    const auto s = cgroup.memory_stat();
    EXPECT_EQ(s.anon, 100 * MiB);  // not anon_thp
    EXPECT_EQ(s.file, 80 * MiB);   // not file_mapped
    EXPECT_EQ(s.active_anon, 34 * MiB);
    EXPECT_EQ(s.inactive_anon, 70 * MiB);
    EXPECT_EQ(s.active_file, 36 * MiB);
    EXPECT_EQ(s.inactive_file, 40 * MiB);
    EXPECT_EQ(s.unevictable, 8192u);
    EXPECT_EQ(s.shmem, 4 * MiB);
    EXPECT_EQ(s.file_mapped, 16 * MiB);
    EXPECT_EQ(s.file_dirty, 1 * MiB);
    EXPECT_EQ(s.file_writeback, 4096u);
    EXPECT_EQ(s.slab_reclaimable, 5 * MiB);
    EXPECT_EQ(s.slab_unreclaimable, 2 * MiB);
}

TEST(CgroupV2, Swap) {
    EXPECT_EQ(v2("/system.slice/docker-limited.scope").swap_limit(), 256 * MiB);
    EXPECT_EQ(v2("/system.slice/docker-limited.scope").swap_usage(), 10 * MiB);
    EXPECT_EQ(v2("/system.slice/docker-nolimit.scope").swap_limit(), std::nullopt);
    EXPECT_EQ(v2("/system.slice/docker-nolimit.scope").swap_usage(), 0u);
    EXPECT_EQ(v2("/system.slice/docker-over.scope").swap_limit(), 0u);
}

TEST(CgroupV2, CpuQuotaCpusetAndUsage) {
    EXPECT_DOUBLE_EQ(v2("/system.slice/docker-limited.scope").cpu_quota().value(), 1.5);
    EXPECT_DOUBLE_EQ(v2("/tight.slice/child.scope").cpu_quota().value(), 1.0);
    EXPECT_EQ(v2("/system.slice/docker-nolimit.scope").cpu_quota(), std::nullopt);
    EXPECT_EQ(v2("/system.slice/docker-limited.scope").cpuset(), (CpuList{0, 1, 2, 3}));
    // cpuset not delegated to the leaf: its parent's effective set applies.
    EXPECT_EQ(v2("/tight.slice/child.scope").cpuset(), (CpuList{4, 5, 6}));
    EXPECT_EQ(v2("/leaf", "cgroup-v2-bare").cpuset(), std::nullopt);
    EXPECT_EQ(v2("/leaf", "cgroup-v2-bare").cpu_quota(), std::nullopt);
    EXPECT_EQ(v2("/system.slice/docker-limited.scope").cpu_usage_ns(), 12345678000u);
}

TEST(CgroupV2, MalformedFileThrowsRatherThanGuessing) {
    const auto dir = ecifs::testing_support::unique_temp_dir("ecifs-malformed");
    fs::create_directories(dir / "leaf");
    std::ofstream(dir / "leaf/memory.max") << "lots\n";
    std::ofstream(dir / "leaf/cpu.max") << "150000\n";
    CgroupPaths paths;
    paths.memory = paths.cpu = CgroupDir{CgroupVersion::v2, dir, "/leaf"};
    const Cgroup cgroup(paths);
    EXPECT_THROW(cgroup.memory_limit(), std::runtime_error);
    EXPECT_THROW(cgroup.cpu_quota(), std::runtime_error);
    fs::remove_all(dir);
}
