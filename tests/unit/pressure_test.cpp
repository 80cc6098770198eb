// /proc/pressure on fixture trees: the cgroup's own PSI files, never the host's.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "fixture_trees.hpp"

namespace fs = std::filesystem;
using namespace ecifs::emulation;
using namespace ecifs::test_fixtures;
using namespace ecifs::handlers;

namespace {

const CgroupDir res_v2 = v2_dir("/system.slice/docker-res.scope");

mode_t host_mode(const std::string& name) {
    struct stat st {};
    EXPECT_EQ(::stat((fixtures / "host/proc/pressure" / name).c_str(), &st), 0);
    return st.st_mode & 07777;
}

struct Fixture {
    explicit Fixture(Cgroup cgroup) { container.set_init({42, 0, std::move(cgroup)}); }
    Container container{"c1", 0, 0, fixture_host};
    Context ctx() const { return {container}; }
};

std::vector<std::string> names(const Context& ctx) {
    std::vector<std::pair<std::string, NodeInfo>> entries;
    EXPECT_EQ(proc_pressure().list(ctx, "", entries), 0);
    std::vector<std::string> out;
    for (const auto& [name, info] : entries) {
        EXPECT_FALSE(info.is_dir);
        EXPECT_EQ(info.mode, host_mode(name));
        out.push_back(name);
    }
    return out;
}

}  // namespace

TEST(Pressure, V2ShowsTheCgroupsOwnFiles) {
    const Fixture f(Cgroup(CgroupPaths{res_v2, res_v2, res_v2, res_v2, res_v2, res_v2}));
    EXPECT_EQ(names(f.ctx()), (std::vector<std::string>{"cpu", "memory", "io"}));
    std::string out;
    ASSERT_EQ(proc_pressure().read(f.ctx(), "cpu", out), 0);
    EXPECT_EQ(out, "some avg10=1.50 avg60=0.75 avg300=0.25 total=1234567\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    ASSERT_EQ(proc_pressure().read(f.ctx(), "io", out), 0);
    EXPECT_EQ(out, "some avg10=0.10 avg60=0.20 avg300=0.30 total=300\nfull avg10=0.05 avg60=0.10 avg300=0.15 total=150\n");
    NodeInfo info;
    ASSERT_EQ(proc_pressure().stat(f.ctx(), "", info), 0);
    EXPECT_TRUE(info.is_dir);
    EXPECT_EQ(info.mode, 0555u);
    ASSERT_EQ(proc_pressure().stat(f.ctx(), "memory", info), 0);
    EXPECT_EQ(info.mode, host_mode("memory"));
    EXPECT_EQ(proc_pressure().stat(f.ctx(), "irq", info), ENOENT);  // not a file of this view
    EXPECT_EQ(proc_pressure().write(f.ctx(), "cpu", "some 150000 1000000"), EOPNOTSUPP);
}

TEST(Pressure, HybridHostReadsTheUnifiedHierarchy) {
    // Every controller on v1, the process's cgroup also in the unified hierarchy.
    CgroupPaths paths;
    paths.memory = v1_dir("memory", "/docker/limited");
    paths.unified = res_v2;
    const Fixture f{Cgroup(paths)};
    EXPECT_EQ(names(f.ctx()), (std::vector<std::string>{"cpu", "memory", "io"}));
    std::string out;
    ASSERT_EQ(proc_pressure().read(f.ctx(), "memory", out), 0);
    EXPECT_EQ(out, "some avg10=0.00 avg60=0.00 avg300=0.00 total=42\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=21\n");
}

TEST(Pressure, WithoutPsiFilesTheDirectoryIsEmptyNeverTheHosts) {
    CgroupPaths v1;
    v1.memory = v1_dir("memory", "/docker/limited");
    const CgroupDir bare = v2_dir("/system.slice/docker-nolimit.scope");
    for (const auto& cgroup : {Cgroup(v1), Cgroup(CgroupPaths{bare, bare, bare, bare, bare, bare})}) {
        const Fixture f(cgroup);
        EXPECT_TRUE(names(f.ctx()).empty());
        std::string out;
        EXPECT_EQ(proc_pressure().read(f.ctx(), "cpu", out), ENOENT);
        NodeInfo info;
        EXPECT_EQ(proc_pressure().stat(f.ctx(), "cpu", info), ENOENT);
    }
}

TEST(Pressure, NotStartedFails) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(proc_pressure().read({container}, "cpu", out), EIO);
}
