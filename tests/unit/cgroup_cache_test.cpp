// What Cgroup keeps between reads: the cgroup's own files kept open (KeptFiles) and the
// ancestors' limits cached for CgroupCaching::ttl. A fake clock stands in for time.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "cgroup/cgroup.hpp"
#include "sys/files.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;
using ecifs::sys::KeptFiles;
using ecifs::sys::SteadyClock;
using namespace std::chrono_literals;

namespace {

const fs::path fixtures = ECIFS_FIXTURES_DIR;
constexpr uint64_t MiB = 1 << 20;

// A clock the test moves by hand.
struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    SteadyClock function() {
        return [this] { return now; };
    }
};

// A writable copy of one fixture tree in a directory of its own.
class TreeCopy {
public:
    explicit TreeCopy(const std::string& tree) : root_(ecifs::testing_support::unique_temp_dir("ecifs-cache-" + tree) / "tree") {
        fs::copy(fixtures / tree, root_, fs::copy_options::recursive);
    }
    ~TreeCopy() { fs::remove_all(root_.parent_path()); }
    const fs::path& root() const { return root_; }

private:
    fs::path root_;
};

// Rewrites a file in place (truncate and write), as the kernel's files change: a kept
// descriptor must see the new content.
void rewrite(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::trunc) << text; }

std::string read_kept(KeptFiles& files, const fs::path& file, int expected_errno = 0) {
    std::string out;
    EXPECT_EQ(files.read(file.string(), out), expected_errno) << file;
    return out;
}

}  // namespace

// ---- KeptFiles -------------------------------------------------------------------

TEST(KeptFiles, KeepsTheFileOpenAndSeesItRewritten) {
    TreeCopy tree("cgroup-v2");
    const auto file = tree.root() / "tight.slice/memory.max";
    KeptFiles files;
    EXPECT_EQ(read_kept(files, file), "268435456\n");
    EXPECT_EQ(files.open_count(), 1u);
    rewrite(file, "max\n");
    EXPECT_EQ(read_kept(files, file), "max\n");
    rewrite(file, "1\n");  // shorter than before: nothing of the old text remains
    EXPECT_EQ(read_kept(files, file), "1\n");
    EXPECT_EQ(files.open_count(), 1u);
}

TEST(KeptFiles, ReadsFilesLargerThanOneBuffer) {
    TreeCopy tree("cgroup-v2");
    const auto file = tree.root() / "memory.stat";
    std::string big;
    for (int i = 0; i < 5000; ++i) big += "key" + std::to_string(i) + " " + std::to_string(i) + "\n";
    rewrite(file, big);
    KeptFiles files;
    EXPECT_EQ(read_kept(files, file), big);
}

TEST(KeptFiles, AMissingFileIsLookedForAgainAfterTheTtl) {
    TreeCopy tree("cgroup-v2");
    const auto file = tree.root() / "later";
    FakeClock clock;
    KeptFiles files(1s, clock.function());
    read_kept(files, file, ENOENT);
    rewrite(file, "here\n");
    clock.now += 500ms;
    read_kept(files, file, ENOENT);  // still remembered as missing
    clock.now += 500ms;
    EXPECT_EQ(read_kept(files, file), "here\n");
    EXPECT_EQ(files.open_count(), 1u);
}

TEST(KeptFiles, ErrorsAreTheReadersErrno) {
    TreeCopy tree("cgroup-v2");
    KeptFiles files;
    read_kept(files, tree.root() / "memory.stat/below", ENOTDIR);
    read_kept(files, tree.root() / "tight.slice", EISDIR);  // opens, then read fails
    EXPECT_EQ(files.open_count(), 1u);
}

TEST(KeptFiles, ClosesItsDescriptorsWhenDestroyed) {
    TreeCopy tree("cgroup-v2");
    const int before = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(before);
    {
        KeptFiles files;
        read_kept(files, tree.root() / "memory.stat");
        read_kept(files, tree.root() / "cpu.stat");
        EXPECT_EQ(files.open_count(), 2u);
    }
    const int after = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(after);
    EXPECT_EQ(after, before);  // the lowest free descriptor is free again
}

// On the host's own cgroupfs (root only): a kept file of a removed cgroup fails with
// ENODEV in the kernel; the reader sees ENOENT, and a cgroup made again under the same
// name is read afresh.
TEST(KeptFiles, ARemovedCgroupReadsAsMissingAndARecreatedOneIsReadAgain) {
    fs::path parent, name;
    if (fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
        parent = "/sys/fs/cgroup/memory", name = "memory.limit_in_bytes";
    } else if (fs::exists("/sys/fs/cgroup/cgroup.controllers")) {
        parent = "/sys/fs/cgroup", name = "cgroup.type";
    } else {
        GTEST_SKIP() << "no cgroup hierarchy to write to";
    }
    const auto dir = parent / ("ecifs-unit-kept-" + std::to_string(::getpid()));
    std::error_code ec;
    if (!fs::create_directory(dir, ec)) GTEST_SKIP() << "cannot make a cgroup: " << ec.message();
    struct RemoveOnExit {  // also when an assertion ends the test early
        const fs::path& dir;
        ~RemoveOnExit() { ::rmdir(dir.c_str()); }
    } remove_on_exit{dir};
    FakeClock clock;
    KeptFiles files(1s, clock.function());
    EXPECT_FALSE(read_kept(files, dir / name).empty());
    ASSERT_EQ(::rmdir(dir.c_str()), 0);
    read_kept(files, dir / name, ENOENT);
    EXPECT_EQ(files.open_count(), 0u);
    ASSERT_TRUE(fs::create_directory(dir));
    clock.now += 1s;
    EXPECT_FALSE(read_kept(files, dir / name).empty());
}

// ---- Cgroup's caching ------------------------------------------------------------

TEST(CgroupCaching, TheCgroupsOwnLimitIsReadEveryTimeTheAncestorsAfterTheTtl) {
    TreeCopy tree("cgroup-v2");
    FakeClock clock;
    const CgroupDir dir{CgroupVersion::v2, tree.root(), "/tight.slice/child.scope"};
    const Cgroup cgroup(CgroupPaths{dir, dir, dir, dir, dir, dir}, CgroupCaching{1s, clock.function()});
    EXPECT_EQ(cgroup.memory_limit(), 256 * MiB);  // the parent's

    rewrite(tree.root() / "tight.slice/child.scope/memory.max", "100000000\n");  // runc update
    EXPECT_EQ(cgroup.memory_limit(), 100000000u);

    rewrite(tree.root() / "tight.slice/memory.max", "50000000\n");
    clock.now += 999ms;
    EXPECT_EQ(cgroup.memory_limit(), 100000000u);  // the parent's old limit is still cached
    clock.now += 1ms;
    EXPECT_EQ(cgroup.memory_limit(), 50000000u);
}

TEST(CgroupCaching, CpuQuotaAndCpusetOfTheAncestorsFollowTheTtl) {
    TreeCopy tree("cgroup-v1");
    FakeClock clock;
    CgroupPaths paths;
    paths.cpu = CgroupDir{CgroupVersion::v1, tree.root() / "cpu", "/capped/child"};
    paths.cpuset = CgroupDir{CgroupVersion::v1, tree.root() / "cpuset", "/docker/set23"};
    const Cgroup cgroup(paths, CgroupCaching{1s, clock.function()});
    EXPECT_DOUBLE_EQ(cgroup.cpu_quota().value(), 1.0);

    rewrite(tree.root() / "cpu/capped/child/cpu.cfs_quota_us", "25000\n");  // its own: at once
    EXPECT_DOUBLE_EQ(cgroup.cpu_quota().value(), 0.25);
    rewrite(tree.root() / "cpu/capped/child/cpu.cfs_quota_us", "-1\n");
    rewrite(tree.root() / "cpu/capped/cpu.cfs_quota_us", "100000\n");
    EXPECT_DOUBLE_EQ(cgroup.cpu_quota().value(), 1.0);
    clock.now += 1s;
    EXPECT_DOUBLE_EQ(cgroup.cpu_quota().value(), 2.0);

    EXPECT_EQ(cgroup.cpuset(), (CpuList{2, 3}));
    rewrite(tree.root() / "cpuset/docker/set23/cpuset.effective_cpus", "1\n");
    EXPECT_EQ(cgroup.cpuset(), (CpuList{1}));
}

TEST(CgroupCaching, MemoryReadsEachFileOnceAndAgreesWithTheSingleReaders) {
    for (const auto& relative : {"/docker/limited", "/docker/over", "/docker/nolimit", "/tight/child", "/gone"}) {
        CgroupPaths paths;
        paths.memory = CgroupDir{CgroupVersion::v1, fixtures / "cgroup-v1/memory", relative};
        const Cgroup cgroup(paths);
        const auto m = cgroup.memory();
        EXPECT_EQ(m.limit, cgroup.memory_limit()) << relative;
        EXPECT_EQ(m.usage, cgroup.memory_usage()) << relative;
        EXPECT_EQ(m.swap_limit, cgroup.swap_limit()) << relative;
        EXPECT_EQ(m.swap_usage, cgroup.swap_usage()) << relative;
        EXPECT_EQ(m.stat.anon, cgroup.memory_stat().anon) << relative;
    }
    for (const auto& relative : {"/system.slice/docker-limited.scope", "/tight.slice/child.scope", "/"}) {
        const CgroupDir dir{CgroupVersion::v2, fixtures / "cgroup-v2", relative};
        const Cgroup cgroup(CgroupPaths{dir, dir, dir, dir, dir, dir});
        const auto m = cgroup.memory();
        EXPECT_EQ(m.limit, cgroup.memory_limit()) << relative;
        EXPECT_EQ(m.usage, cgroup.memory_usage()) << relative;
        EXPECT_EQ(m.swap_limit, cgroup.swap_limit()) << relative;
        EXPECT_EQ(m.swap_usage, cgroup.swap_usage()) << relative;
        EXPECT_EQ(m.stat.file, cgroup.memory_stat().file) << relative;
    }
}

TEST(CgroupCaching, UsageIsLiveAndAGoneCgroupIsNoCrash) {
    TreeCopy tree("cgroup-v1");
    CgroupPaths paths;
    paths.memory = CgroupDir{CgroupVersion::v1, tree.root() / "memory", "/docker/limited"};
    const Cgroup cgroup(paths, CgroupCaching{1s, [] { return std::chrono::steady_clock::time_point{}; }});
    EXPECT_EQ(cgroup.memory_usage(), 200 * MiB);
    rewrite(tree.root() / "memory/docker/limited/memory.usage_in_bytes", "1048576\n");
    EXPECT_EQ(cgroup.memory().usage, 1 * MiB);
    fs::remove_all(tree.root() / "memory/docker/limited");
    // A regular file unlinked stays readable through its descriptor (a cgroupfs file
    // fails with ENODEV instead, see KeptFiles above); either way nothing throws.
    EXPECT_NO_THROW(cgroup.memory());
}
