// /proc/pressure on fixture trees: the cgroup's own PSI files, never the host's.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "emulation/container.hpp"
#include "emulation/psi.hpp"
#include "handlers/families.hpp"
#include "fixture_trees.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;
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

// ---- triggers ----------------------------------------------------------------------

namespace {

// The outcome of one write, as the kernel's psi_write gives it: "some 1 2000000" or an errno.
std::string trigger(std::string_view written, bool privileged = false) {
    PsiTrigger t;
    if (int err = parse_psi_trigger(written, privileged, t)) return std::string("errno ") + std::to_string(err);
    return format_psi_trigger(t);
}

using namespace std::string_view_literals;

}  // namespace

TEST(PsiTrigger, ReadAsPsiWriteReadsIt) {
    // The last of at most 32 bytes is the terminating NUL: without one the window loses
    // its last digit.
    EXPECT_EQ(trigger("some 150000 2000000\0"sv), "some 150000 2000000");
    EXPECT_EQ(trigger("some 150000 2000000"sv, true), "some 150000 200000");
    EXPECT_EQ(trigger("some 1 2000000                    \0"sv), "some 1 2000000");
    EXPECT_EQ(trigger("some 00000000000000000000000001 2000000\0"sv), "errno 22");  // cut at 31 bytes
    // sscanf("some %u %u"): blanks anywhere between, none before; trailing text ignored.
    EXPECT_EQ(trigger("full 150000 2000000\0"sv), "full 150000 2000000");
    EXPECT_EQ(trigger("some150000 2000000\0"sv), "some 150000 2000000");
    EXPECT_EQ(trigger("some\t1\n2000000\0"sv), "some 1 2000000");
    EXPECT_EQ(trigger("some 1 2000000 junk\0"sv), "some 1 2000000");
    EXPECT_EQ(trigger(" some 1 2000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("SOME 1 2000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("some +1 2000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("some -1 2000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("some 0x10 2000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("junk"sv), "errno 22");
    EXPECT_EQ(trigger("\0"sv), "errno 22");
    EXPECT_EQ(trigger(""sv), "errno 22");
    // %u wraps at 32 bits.
    EXPECT_EQ(trigger("some 4294967297 2000000\0"sv), "some 1 2000000");
    EXPECT_EQ(trigger("some 1 4294967296\0"sv), "errno 22");
}

TEST(PsiTrigger, BoundsOfTheWindowAndTheThreshold) {
    EXPECT_EQ(trigger("some 0 2000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("some 2000001 2000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("some 2000000 2000000\0"sv), "some 2000000 2000000");
    EXPECT_EQ(trigger("some 1 0\0"sv, true), "errno 22");
    EXPECT_EQ(trigger("some 1 10000000\0"sv), "some 1 10000000");
    EXPECT_EQ(trigger("some 1 10000001\0"sv, true), "errno 22");
    // Without CAP_SYS_RESOURCE only whole multiples of 2 s.
    EXPECT_EQ(trigger("some 150000 1000000\0"sv), "errno 22");
    EXPECT_EQ(trigger("some 150000 1000000\0"sv, true), "some 150000 1000000");
    EXPECT_EQ(trigger("some 1 6000000\0"sv), "some 1 6000000");
    EXPECT_EQ(trigger("full 1 500000\0"sv), "errno 22");
    EXPECT_EQ(trigger("full 1 500\0"sv, true), "full 1 500");
}

TEST(Pressure, OneTriggerPerOpenFileAndBadOnesGetEinval) {
    const Fixture f(Cgroup(CgroupPaths{res_v2, res_v2, res_v2, res_v2, res_v2, res_v2}));
    EventSource attached{true};
    EXPECT_EQ(proc_pressure().write_handle(f.ctx(), "cpu", "some 1 2000000\0"sv, 0, attached), EBUSY);
    EXPECT_EQ(proc_pressure().write_handle(f.ctx(), "cpu", "junk\0"sv, 20, attached), EBUSY);
    EventSource none;
    EXPECT_EQ(proc_pressure().write_handle(f.ctx(), "cpu", "some 1 1000000\0"sv, 0, none), EINVAL);
    EXPECT_EQ(none.fd, -1);
    // poll(2) as psi_trigger_poll: without a trigger an error, with one POLLPRI per event.
    EXPECT_EQ(proc_pressure().poll("cpu", false, false), default_poll_mask | POLLERR | POLLPRI);
    EXPECT_EQ(proc_pressure().poll("cpu", true, false), default_poll_mask);
    EXPECT_EQ(proc_pressure().poll("cpu", true, true), default_poll_mask | POLLPRI);
}

// On the host's own unified hierarchy (root only): a trigger registered on a cgroup of
// ours is a descriptor that polls no event while nothing stalls there; one the kernel
// refuses gets the kernel's errno.
TEST(Pressure, ATriggerOnARealCgroup) {
    fs::path root;
    for (const char* candidate : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
        if (fs::exists(fs::path(candidate) / "cgroup.procs") && fs::exists(fs::path(candidate) / "cpu.pressure")) root = candidate;
    if (root.empty()) GTEST_SKIP() << "no unified hierarchy with PSI files";
    const auto dir = root / ("ecifs-unit-psi-" + std::to_string(::getpid()));
    std::error_code ec;
    if (!fs::create_directory(dir, ec)) GTEST_SKIP() << "cannot make a cgroup: " << ec.message();
    struct RemoveOnExit {  // also when an assertion ends the test early
        const fs::path& dir;
        ~RemoveOnExit() { ::rmdir(dir.c_str()); }
    } remove_on_exit{dir};
    CgroupPaths paths;
    paths.unified = CgroupDir{CgroupVersion::v2, root, "/" + dir.filename().string()};
    const Cgroup cgroup(paths);
    const int fd = cgroup.open_pressure_trigger("cpu", "some 100000 2000000");
    ASSERT_GE(fd, 0) << std::strerror(-fd);
    pollfd p{fd, POLLPRI, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0);
    // A second trigger on the same descriptor is refused by the kernel; this is another.
    const int second = cgroup.open_pressure_trigger("memory", "full 1 4000000");
    EXPECT_GE(second, 0);
    ::close(second);
    ::close(fd);
    EXPECT_EQ(cgroup.open_pressure_trigger("cpu", "some 1 20000000"), -EINVAL);
    EXPECT_EQ(cgroup.open_pressure_trigger("nope", "some 1 2000000"), -ENOENT);
}
