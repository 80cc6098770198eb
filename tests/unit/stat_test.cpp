// /proc/stat on fixture trees. The fixture host (tests/fixtures/host/proc) has been up
// 350735.47 s, booted at 1700000000 and has 8 CPUs; its stat has 20 interrupt counters
// and 10 softirq counters. USER_HZ is 100.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "emulation/loadavg.hpp"
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

constexpr double started_100s_ago = 350635.47;

Cgroup v1(const std::string& cpuset, const std::string& cpu, const std::string& cpuacct, const std::string& pids = "") {
    CgroupPaths paths;
    paths.cpuset = v1_dir("cpuset", cpuset);
    paths.cpu = v1_dir("cpu", cpu);
    paths.cpuacct = v1_dir("cpuacct", cpuacct);
    if (!pids.empty()) paths.pids = v1_dir("pids", pids);
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative) {
    return v2_cgroup(relative);
}

std::string show(const Cgroup& cgroup, double start = started_100s_ago, pid_t init = 5001, pid_t caller = 0) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({init, start, cgroup});
    // The task states, as the daemon's sampler counts them every 5 s.
    refresh_load(container, LoadAverage::Clock::now());
    std::string out;
    EXPECT_EQ(read_view("proc/stat", {container, caller}, out), 0);
    return out;
}

std::string show(const Container& container) {
    refresh_load(container, LoadAverage::Clock::now());  // as the daemon's sampler does
    std::string out;
    EXPECT_EQ(read_view("proc/stat", {container, 0}, out), 0);
    return out;
}

// The lines after the CPU lines, for a container with these tasks: btime is the host's
// boot (the fixture's), whenever the container started.
std::string tail(uint64_t processes, uint64_t running, uint64_t blocked) {
    constexpr uint64_t btime = 1700000000;
    return fmt::format(
        "intr 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "ctxt 0\n"
        "btime {}\n"
        "processes {}\n"
        "procs_running {}\n"
        "procs_blocked {}\n"
        "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
        btime, processes, running, blocked);
}

class Stat : public ::testing::Test {
protected:
    void SetUp() override {
        if (sysconf(_SC_CLK_TCK) != 100) GTEST_SKIP() << "the expected lines assume USER_HZ 100";
    }
};

}  // namespace

TEST_F(Stat, NoLimitSplitsTheTimesEvenlyOverEveryHostCpu) {
    // 0.8 s user, 0.2 s system: 10 user ticks each, 20 system ticks over 8 CPUs.
    const auto out = show(v2("/system.slice/docker-nolimit.scope"));
    EXPECT_EQ(out,
              "cpu  80 0 20 79900 0 0 0 0 0 0\n"
              "cpu0 10 0 3 9987 0 0 0 0 0 0\n"
              "cpu1 10 0 3 9987 0 0 0 0 0 0\n"
              "cpu2 10 0 3 9987 0 0 0 0 0 0\n"
              "cpu3 10 0 3 9987 0 0 0 0 0 0\n"
              "cpu4 10 0 2 9988 0 0 0 0 0 0\n"
              "cpu5 10 0 2 9988 0 0 0 0 0 0\n"
              "cpu6 10 0 2 9988 0 0 0 0 0 0\n"
              "cpu7 10 0 2 9988 0 0 0 0 0 0\n" +
                  tail(0, 0, 0));  // no task files in this fixture
}

TEST_F(Stat, V1CpusetTwoThreeWithUserAndSysFromCpuacct) {
    // cpuacct.usage_user 20 s, usage_sys 10 s; tasks 5001-5004 (5005 is gone): 5002 and
    // 5004 run, 5003 waits on disk; `processes` is the newest task's (5004) id in the
    // container's namespace, 9. (The fixture's 5003 is 12 there: a real one could not be,
    // ids rise in every namespace as in the host.)
    EXPECT_EQ(show(v1("/docker/set23", "/docker/nolimit", "/docker/res", "/docker/res")),
              "cpu  2000 0 1000 17000 0 0 0 0 0 0\n"
              "cpu0 1000 0 500 8500 0 0 0 0 0 0\n"
              "cpu1 1000 0 500 8500 0 0 0 0 0 0\n" +
                  tail(9, 2, 1));
}

TEST_F(Stat, V2CpusetTwoThreeWithNiceTime) {
    // user_usec 20 s of which nice_usec 4 s, system 10 s; the same tasks.
    EXPECT_EQ(show(v2("/system.slice/docker-res.scope")),
              "cpu  1600 400 1000 17000 0 0 0 0 0 0\n"
              "cpu0 800 200 500 8500 0 0 0 0 0 0\n"
              "cpu1 800 200 500 8500 0 0 0 0 0 0\n" +
                  tail(9, 2, 1));
}

TEST_F(Stat, TheReaderCountsAsRunning) {
    // The caller waits in state D for our reply; the kernel's reader would be running. The
    // other states are the sampler's (5002 and 5004 running, 5003 blocked when it ran).
    EXPECT_EQ(show(v2("/system.slice/docker-res.scope"), started_100s_ago, 5001, 5003),
              "cpu  1600 400 1000 17000 0 0 0 0 0 0\n"
              "cpu0 800 200 500 8500 0 0 0 0 0 0\n"
              "cpu1 800 200 500 8500 0 0 0 0 0 0\n" +
                  tail(9, 3, 1));
}

TEST_F(Stat, StatesAreTheSamplersNotReadPerOpen) {
    // Issue 14: an open does not read every task's state. Before any sample (a
    // container younger than a period), only the reader counts as running.
    Container container("c1", 0, 0, fixture_host);
    container.set_init({5001, started_100s_ago, v2("/system.slice/docker-res.scope")});
    std::string out;
    ASSERT_EQ(read_view("proc/stat", {container, 5002}, out), 0);
    EXPECT_NE(out.find(tail(9, 1, 0)), std::string::npos) << out;
}

TEST_F(Stat, HalfACpuOfQuotaIsOneCpuLine) {
    EXPECT_EQ(show(v2("/system.slice/docker-over.scope")), "cpu  80 0 20 9900 0 0 0 0 0 0\ncpu0 80 0 20 9900 0 0 0 0 0 0\n" + tail(0, 0, 0));
    // v1 without usage_user/usage_sys (before Linux 4.7): cpuacct.stat's 617/617 ticks.
    EXPECT_EQ(show(v1("/docker/all", "/docker/q50", "/docker/c1")),
              "cpu  617 0 617 8766 0 0 0 0 0 0\ncpu0 617 0 617 8766 0 0 0 0 0 0\n" + tail(0, 0, 0));
}

TEST_F(Stat, AncestorQuotaTighterThanTheLeaf) {
    EXPECT_EQ(show(v2("/tight.slice/child.scope")), "cpu  80 0 20 9900 0 0 0 0 0 0\ncpu0 80 0 20 9900 0 0 0 0 0 0\n" + tail(0, 0, 0));
    EXPECT_EQ(show(v1("/docker/all", "/capped/child", "/docker/res")),
              "cpu  2000 0 1000 7000 0 0 0 0 0 0\ncpu0 2000 0 1000 7000 0 0 0 0 0 0\n" + tail(0, 0, 0));
}

TEST_F(Stat, UsageAboveTheElapsedTimeSaturates) {
    // Started 0.47 s ago, 2 CPUs (quota 1.5), 9.87 s user and 2.46 s system used: every
    // line is all busy, none negative.
    EXPECT_EQ(show(v2("/system.slice/docker-limited.scope"), 350735.0),
              "cpu  94 0 0 0 0 0 0 0 0 0\ncpu0 47 0 0 0 0 0 0 0 0 0\ncpu1 47 0 0 0 0 0 0 0 0 0\n" + tail(0, 0, 0));
    // A start after the host's clock (skew): no time has passed.
    EXPECT_EQ(show(v1("/docker/set23", "/docker/nolimit", "/docker/res"), 360000.0),
              "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\n" + tail(0, 0, 0));
}

TEST_F(Stat, RenderKeepsTheHostsFieldCountsAndUnknownLines) {
    const std::string host = "cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\nintr 5 1 1\nctxt 9\nbtime 100\nnew_line 7 7\n";
    StatFigures f;
    f.cpu = {.usage = 3'000'000'000, .user = 2'000'000'000, .system = 1'000'000'000, .nice = 0};
    f.cpus = 3;
    f.elapsed_ticks = 500;
    f.btime = 160;
    EXPECT_EQ(render_stat(host, f, stat_cpu_lines(f)),
              "cpu  200 0 100 1200 0 0 0 0\n"
              "cpu0 67 0 34 399 0 0 0 0\n"
              "cpu1 67 0 33 400 0 0 0 0\n"
              "cpu2 66 0 33 401 0 0 0 0\n"
              "intr 0 0 0\n"
              "ctxt 0\n"
              "btime 160\n"
              "new_line 7 7\n");
}

TEST_F(Stat, FailsClosed) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/stat", {container}, out), EIO);  // not started
    container.set_init({5001, started_100s_ago, v2("/gone.scope")});
    EXPECT_EQ(read_view("proc/stat", {container}, out), EIO);  // no cpu.stat: no host figures instead
}

TEST_F(Stat, NoCounterGoesBackwards) {
    // A busy second in which the cgroup counted a tick more than the clock advanced:
    // idle stays, the busy time waits for the clock.
    EXPECT_EQ(never_below({1101, 0, 0, 4}, {1000, 0, 0, 5}), (CpuLine{1100, 0, 0, 5}));
    // Nothing went down: the new line as it is.
    EXPECT_EQ(never_below({1100, 2, 30, 70}, {1000, 1, 20, 50}), (CpuLine{1100, 2, 30, 70}));
    // A line read before the last one shown (two readers at once): the last one.
    EXPECT_EQ(never_below({990, 0, 10, 0}, {1000, 0, 10, 0}), (CpuLine{1000, 0, 10, 0}));
    // system went down as user rose past the elapsed time: taken back from user.
    EXPECT_EQ(never_below({205, 0, 45, 50}, {150, 0, 50, 40}), (CpuLine{200, 0, 50, 50}));
}

TEST_F(Stat, ReReadsOfABusyContainerNeverShowLess) {
    // A container on one CPU, 100 s old, whose busy time runs one tick ahead of the clock
    // every other read: every counter of every line keeps rising or stays.
    StatFigures f;
    f.cpus = 1;
    std::vector<CpuLine> shown;
    for (uint64_t read = 0; read < 20; ++read) {
        f.elapsed_ticks = 10'000 + read * 100;
        const uint64_t busy_ticks = 9'990 + read * 100 + read % 2;
        f.cpu = {.usage = busy_ticks * 10'000'000, .user = busy_ticks * 10'000'000, .system = 0, .nice = 0};
        const auto lines = stat_cpu_lines(f, shown);
        ASSERT_EQ(lines.size(), 1u);
        for (size_t i = 0; !shown.empty() && i < lines[0].size(); ++i) EXPECT_GE(lines[0][i], shown[0][i]) << read;
        EXPECT_EQ(lines[0][0] + lines[0][3], f.elapsed_ticks);
        shown = lines;
    }
}

TEST_F(Stat, SuccessiveReadsOfTheFileNeverShowLess) {
    // Through the generator: the container keeps what it showed. Shown before, 9 ticks
    // ago: one idle tick more than the files give now (8500); the user time waits.
    Container container("c1", 0, 0, fixture_host);
    container.set_init({5001, started_100s_ago, v2("/system.slice/docker-res.scope")});
    container.shown_cpu_lines().advance([](std::span<const CpuLine>) {
        return std::vector<CpuLine>{{790, 200, 500, 8501}, {790, 200, 500, 8501}};
    });
    EXPECT_EQ(show(container),
              "cpu  1598 400 1000 17002 0 0 0 0 0 0\n"
              "cpu0 799 200 500 8501 0 0 0 0 0 0\n"
              "cpu1 799 200 500 8501 0 0 0 0 0 0\n" +
                  tail(9, 2, 1));
    EXPECT_EQ(container.shown_cpu_lines().advance([](std::span<const CpuLine> last) {
        return std::vector<CpuLine>(last.begin(), last.end());
    }),
              (std::vector<CpuLine>{{799, 200, 500, 8501, 0, 0, 0, 0, 0, 0}, {799, 200, 500, 8501, 0, 0, 0, 0, 0, 0}}));
}
