// The load average (kernel/sched/loadavg.c's arithmetic, expected values computed with
// the kernel's formulas by hand), task counting on fixture /proc trees, /proc/loadavg
// and one tick of the daemon's sampler.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "daemon/load_sampler.hpp"
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
using namespace std::chrono_literals;
using Clock = LoadAverage::Clock;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 1h;
// Tasks 5001 (S), 5002 (R), 5003 (D), 5004 (R, in a nested pid namespace), 5005 (gone).
const std::vector<pid_t> fixture_tids = {5001, 5002, 5003, 5004, 5005};

Cgroup v1(const std::string& pids) {
    CgroupPaths paths;
    paths.pids = v1_dir("pids", pids);
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative) {
    return v2_cgroup(relative);
}

// Started at t0, then `periods` folds of `active` tasks, one per period.
void run_periods(LoadAverage& load, uint64_t active, int periods) {
    load.start(t0);
    for (int i = 1; i <= periods; ++i) load.sample(t0 + i * LoadAverage::period, active);
}

}  // namespace

TEST(LoadAverage, OnePeriodOfOneTaskIsTheKernels) {
    LoadAverage load;
    run_periods(load, 1, 1);
    EXPECT_EQ(load.averages(), (std::array<uint64_t, 3>{164, 34, 11}));
    EXPECT_EQ(load.format(), "0.08 0.02 0.01");
}

TEST(LoadAverage, AMinuteOfOneTaskAndItsDecay) {
    LoadAverage load;
    run_periods(load, 1, 12);
    EXPECT_EQ(load.averages(), (std::array<uint64_t, 3>{1299, 378, 132}));
    EXPECT_EQ(load.format(), "0.63 0.18 0.06");
    for (int i = 13; i <= 24; ++i) load.sample(t0 + i * LoadAverage::period, 0);
    EXPECT_EQ(load.format(), "0.23 0.15 0.06");
    EXPECT_EQ(load.sysinfo_loads(), (std::array<unsigned long, 3>{15168, 9696, 3840}));  // << (16 - 11)
}

TEST(LoadAverage, MissedPeriodsAreCaughtUpInBulk) {
    LoadAverage load;
    load.start(t0);
    load.sample(t0 + 62s, 1);  // 12 periods ended: one fold, then calc_load_n for 11
    EXPECT_EQ(load.averages(), (std::array<uint64_t, 3>{1298, 372, 130}));
    EXPECT_FALSE(load.due(t0 + 64s));
    EXPECT_TRUE(load.due(t0 + 65s));
}

TEST(LoadAverage, NoFoldWithinAPeriodAndStartIsIdempotent) {
    LoadAverage load;
    EXPECT_FALSE(load.started());
    load.start(t0);
    load.start(t0 + 3s);  // ignored: the first start counts
    load.sample(t0 + 4s, 100);
    EXPECT_EQ(load.format(), "0.00 0.00 0.00");
    load.sample(t0 + 5s, 1);
    EXPECT_EQ(load.format(), "0.08 0.02 0.01");
}

// A restarted daemon (docs/restart.md) goes on from the very state the fold left.
TEST(LoadAverage, EveryFoldIsSavedAndARestoredAverageGoesOnAsTheFirst) {
    const Clock::time_point t0{std::chrono::seconds(1000)};
    LoadAverage first;
    std::vector<LoadAverage::Saved> saves;
    first.on_fold([&](const LoadAverage::Saved& s) { saves.push_back(s); });
    first.start(t0);
    first.sample(t0 + 2s, 1);  // within the period: no fold, nothing saved
    EXPECT_TRUE(saves.empty());
    first.sample(t0 + 5s, 1);
    first.sample(t0 + 10s, 2);
    ASSERT_EQ(saves.size(), 2u);
    LoadAverage second;
    second.restore(saves.back());
    EXPECT_EQ(second.averages(), first.averages());
    EXPECT_FALSE(second.due(t0 + 14s));
    first.sample(t0 + 21s, 1);  // two periods ended: one fold and one missed
    second.sample(t0 + 21s, 1);
    EXPECT_EQ(second.averages(), first.averages());
    EXPECT_EQ(second.format(), first.format());
}

TEST(LoadAverage, SampleBeforeStartStartsTheClock) {
    LoadAverage load;
    load.sample(t0, 5);
    EXPECT_TRUE(load.started());
    EXPECT_EQ(load.format(), "0.00 0.00 0.00");
}

TEST(CountTasks, StatesFromStatAndPidsFromStatus) {
    const auto by_stat = count_tasks(fixture_host, fixture_tids);
    EXPECT_EQ(by_stat.total, 4u);
    EXPECT_EQ(by_stat.running, 2u);
    EXPECT_EQ(by_stat.uninterruptible, 1u);
    EXPECT_EQ(by_stat.active(), 3u);
    EXPECT_EQ(by_stat.last_pid, 0);
    // Level 1: the container's namespace; 5004's innermost id (1) is a nested one's.
    const auto by_status = count_tasks(fixture_host, fixture_tids, 0, 1);
    EXPECT_EQ(by_status.total, 4u);
    EXPECT_EQ(by_status.running, 2u);
    EXPECT_EQ(by_status.uninterruptible, 1u);
    EXPECT_EQ(by_status.last_pid, 12);
    EXPECT_EQ(count_tasks(fixture_host, fixture_tids, 0, 0).last_pid, 5004);  // the host's ids
}

TEST(CountTasks, TheCallerCountsAsRunning) {
    const auto counts = count_tasks(fixture_host, fixture_tids, 5003);
    EXPECT_EQ(counts.running, 3u);
    EXPECT_EQ(counts.uninterruptible, 0u);
}

TEST(CurrentTasks, StatesFromTheLastSampleTotalFromTheCounterLastPidFromTheNewest) {
    for (const auto& cgroup : {v1("/docker/res"), v2("/system.slice/docker-res.scope")}) {
        Container container("c1", 0, 0, fixture_host);
        container.load().note_states({.running = 1, .uninterruptible = 2, .total = 9, .last_pid = 99});
        const auto counts = current_tasks(container, cgroup, 0, 1, t0);
        EXPECT_EQ(counts.running, 1u);
        EXPECT_EQ(counts.uninterruptible, 2u);
        EXPECT_EQ(counts.total, 5u);  // pids.current
        // 5005 is gone: 5004, the newest left, is 9 at depth 1 (the fixture's 5003 is 12
        // there, which a real task created before 5004 could not be).
        EXPECT_EQ(counts.last_pid, 9);
        EXPECT_EQ(current_tasks(container, cgroup, 0, 0, t0).last_pid, 5004);
        EXPECT_EQ(current_tasks(container, cgroup, 0, std::nullopt, t0).last_pid, 0);
        // The reader is running (5003 is in a child cgroup); a caller outside the
        // container (4242, in a cgroup whose name only begins the same) is not counted.
        EXPECT_EQ(current_tasks(container, cgroup, 5003, 1, t0).running, 2u);
        EXPECT_EQ(current_tasks(container, cgroup, 4242, 1, t0).running, 1u);
    }
}

TEST(CurrentTasks, NeverMoreRunningAndBlockedThanTasks) {
    Container container("c1", 0, 0, fixture_host);
    container.load().note_states({.running = 7, .uninterruptible = 7});
    const auto capped = current_tasks(container, v1("/docker/res/inner"), 5003, 1, t0);
    EXPECT_EQ(capped.total, 3u);
    EXPECT_EQ(capped.running, 3u);
    EXPECT_EQ(capped.uninterruptible, 0u);
}

TEST(CurrentTasks, WithoutACounterTheListIsCounted) {
    CgroupPaths paths;
    paths.cpuacct = v1_dir("cpuacct", "/docker/res");  // no pids.current in any
    paths.pids = std::nullopt;
    Container container("c1", 0, 0, fixture_host);
    const Cgroup cgroup(paths);
    ASSERT_FALSE(cgroup.thread_count());
    EXPECT_EQ(current_tasks(container, cgroup, 0, 1, t0).total, cgroup.threads().size());
}

// The newest task is worked out from the task list only when the count changed or the
// last one is a second old: a container of 5,000 sleeping threads does not list them
// on every read (issue 14). A count that stays while tasks come and go shows the old
// newest for at most that second.
TEST(CurrentTasks, TheNewestIsKeptWhileTheCountStaysForASecond) {
    const auto root = fs::temp_directory_path() / ("ecifs-newest-" + std::to_string(::getpid()));
    fs::create_directories(root / "pids/c");
    auto write = [&](const std::string& file, const std::string& text) { std::ofstream(root / "pids/c" / file) << text; };
    write("tasks", "5001\n");
    write("pids.current", "1\n");
    CgroupPaths paths;
    paths.pids = CgroupDir{CgroupVersion::v1, root / "pids", "/c"};
    const Cgroup cgroup(paths);
    Container container("c1", 0, 0, fixture_host);
    EXPECT_EQ(current_tasks(container, cgroup, 0, 1, t0).last_pid, 1);    // 5001 is 1 at depth 1
    write("tasks", "5001\n5002\n");  // 5002 came and another went: the count is the same
    EXPECT_EQ(current_tasks(container, cgroup, 0, 1, t0 + 900ms).last_pid, 1);
    EXPECT_EQ(current_tasks(container, cgroup, 0, 1, t0 + 1s).last_pid, 7);  // 5002 is 7
    write("tasks", "5001\n5002\n5003\n");
    write("pids.current", "3\n");  // a new count is listed at once
    EXPECT_EQ(current_tasks(container, cgroup, 0, 1, t0 + 1100ms).last_pid, 12);
    fs::remove_all(root);
}

TEST(CountTasks, PidNamespaceLevel) {
    EXPECT_EQ(pid_ns_level(fixture_host, 5001), 1u);
    EXPECT_EQ(pid_ns_level(fixture_host, 5004), 2u);
    EXPECT_THROW(pid_ns_level(fixture_host, 5005), std::system_error);
}

TEST(CgroupThreads, EveryThreadOfTheCgroupAndItsDescendants) {
    auto sorted = [](std::vector<pid_t> v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    EXPECT_EQ(sorted(v1("/docker/res").threads()), fixture_tids);
    EXPECT_EQ(sorted(v2("/system.slice/docker-res.scope").threads()), fixture_tids);
    EXPECT_TRUE(v2("/system.slice/gone.scope").threads().empty());
}

TEST(CgroupThreads, AtMostTheBoundsCgroupsTheShallowestFirst) {
    // /docker/res holds 5001 and 5002, its child inner the rest (fixtures/cgroup-v1/pids).
    auto res_only = v1("/docker/res").threads(1);
    std::sort(res_only.begin(), res_only.end());
    EXPECT_EQ(res_only, (std::vector<pid_t>{5001, 5002}));
    EXPECT_TRUE(v1("/docker/res").threads(0).empty());
}

TEST(ShowLoadavg, RightFromTheFirstRead) {
    // Started 102.5 s ago with 3 active tasks: the first read folds 20 periods of them.
    for (const auto& cgroup : {v1("/docker/res"), v2("/system.slice/docker-res.scope")}) {
        Container container("c1", 0, 0, fixture_host);
        container.set_init({5001, 350735.47 - 102.5, cgroup});
        std::string out;
        ASSERT_EQ(read_view("proc/loadavg", {container}, out), 0);
        // 5 tasks listed (5005's exit is not looked for: no per-task read), 2 running.
        EXPECT_EQ(out, "2.44 0.85 0.31 2/5 9\n");
        EXPECT_EQ(container.load().averages(), (std::array<uint64_t, 3>{4991, 1740, 630}));
        ASSERT_EQ(read_view("proc/loadavg", {container, 5003}, out), 0);  // read by the D-state task
        EXPECT_EQ(out, "2.44 0.85 0.31 3/5 9\n");
    }
}

TEST(ShowLoadavg, TheReaderIsNotFoldedIntoTheLoad) {
    // 5002 (R) reads: the fold its read causes counts 5003 (D) and 5004 (R) only.
    Container container("c1", 0, 0, fixture_host);
    container.set_init({5001, 350735.47 - 102.5, v2("/system.slice/docker-res.scope")});
    std::string out;
    ASSERT_EQ(read_view("proc/loadavg", {container, 5002}, out), 0);
    EXPECT_EQ(out, "1.62 0.57 0.20 2/5 9\n");
}

TEST(ShowLoadavg, FailsClosed) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/loadavg", {container}, out), EIO);  // not started
    container.set_init({5005, 350000, v2("/system.slice/docker-res.scope")});
    EXPECT_EQ(read_view("proc/loadavg", {container}, out), EIO);  // init gone: its pid namespace unknown
}

TEST(RenderLoadavg, KernelFormat) {
    LoadAverage load;
    run_periods(load, 1, 1);
    EXPECT_EQ(render_loadavg(load, {.running = 1, .uninterruptible = 0, .total = 3, .last_pid = 42}),
              "0.08 0.02 0.01 1/3 42\n");
}

TEST(LoadSampler, OneTickSamplesEveryStartedContainer) {
    std::vector<std::shared_ptr<Container>> containers;
    for (int i = 0; i < 3; ++i) containers.push_back(std::make_shared<Container>("c", 0, 0, fixture_host));
    containers[0]->set_init({5001, 350735.47 - 102.5, v2("/system.slice/docker-res.scope")});
    containers[1]->set_init({5001, 350735.47 - 102.5, v2("/system.slice/gone.scope")});  // no tasks
    const auto now = Clock::now();
    EXPECT_EQ(ecifs::daemon::LoadSampler::sample(containers, now), 5u);  // tids listed
    EXPECT_EQ(containers[0]->load().format(), "2.44 0.85 0.31");
    EXPECT_EQ(containers[1]->load().format(), "0.00 0.00 0.00");
    EXPECT_FALSE(containers[2]->load().started());  // not started: nothing to count
    EXPECT_EQ(ecifs::daemon::LoadSampler::sample(containers, now + 1s), 0u);  // within the period
}
