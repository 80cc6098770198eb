// fs::EventSources on the host's own unified cgroup hierarchy (root only): a kernfs file
// whose poll reports POLLPRI when the kernel notifies a change (cgroup.events, which a
// process moving in changes, as a PSI trigger's firing does for a pressure file) is
// seen through inotify and reported once to poll; removal and stop close the sources.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "fs/event_sources.hpp"

namespace fs = std::filesystem;
using ecifs::fs::EventSources;
using namespace std::chrono_literals;

namespace {

// A cgroup of this test in the unified hierarchy, removed at the end.
class TestCgroup {
public:
    TestCgroup() {
        for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
            if (fs::exists(fs::path(root) / "cgroup.procs")) {
                dir_ = fs::path(root) / ("ecifs-unit-events-" + std::to_string(::getpid()));
                break;
            }
        std::error_code ec;
        if (!dir_.empty() && !fs::create_directory(dir_, ec)) dir_.clear();
    }
    ~TestCgroup() {
        if (child_ > 0) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
        }
        if (!dir_.empty()) ::rmdir(dir_.c_str());
    }
    const fs::path& dir() const { return dir_; }
    // A sleeping child moved into the cgroup: cgroup.events says "populated 1".
    void populate() {
        child_ = ::fork();
        if (child_ == 0) {
            ::pause();
            ::_exit(0);
        }
        std::ofstream(dir_ / "cgroup.procs") << child_ << '\n';
    }

private:
    fs::path dir_;
    pid_t child_ = -1;
};

// Runs the io_context on a thread of its own for the test's life.
struct Loop {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread{[this] { io.run(); }};
    ~Loop() {
        work.reset();
        io.stop();
        thread.join();
    }
};

bool fired_within(EventSources& sources, EventSources::Id id, std::chrono::milliseconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 10ms) {
        if (sources.poll(id, nullptr)) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace

TEST(EventSources, AFiringIsReportedOnceRemovalClosesTheSource) {
    TestCgroup cgroup;
    if (cgroup.dir().empty()) GTEST_SKIP() << "no unified cgroup hierarchy to write to";
    Loop loop;
    EventSources sources(loop.io);
    const int fd = ::open((cgroup.dir() / "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char text[256];
    ASSERT_GT(::pread(fd, text, sizeof text, 0), 0);  // a new descriptor polls POLLPRI until read
    const auto id = sources.add(fd);
    ASSERT_NE(id, 0u);
    EXPECT_FALSE(sources.poll(id, nullptr));  // nothing changed yet
    cgroup.populate();
    EXPECT_TRUE(fired_within(sources, id, 5s));
    // Reading cgroup.events acknowledges the change (its POLLPRI stays until then, unlike
    // a PSI trigger's); after that nothing fires while nothing changes.
    ASSERT_GT(::pread(fd, text, sizeof text, 0), 0);
    std::this_thread::sleep_for(300ms);
    sources.poll(id, nullptr);
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(sources.poll(id, nullptr));
    sources.remove(id);
    EXPECT_FALSE(is_open(fd));
    EXPECT_FALSE(sources.poll(id, nullptr));
}

TEST(EventSources, StopClosesEverySourceAndRefusesNewOnes) {
    TestCgroup cgroup;
    if (cgroup.dir().empty()) GTEST_SKIP() << "no unified cgroup hierarchy to write to";
    Loop loop;
    EventSources sources(loop.io);
    const int fd = ::open((cgroup.dir() / "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_NE(sources.add(fd), 0u);
    sources.stop();
    EXPECT_FALSE(is_open(fd));
    const int again = ::open((cgroup.dir() / "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(again, 0);
    EXPECT_EQ(sources.add(again), 0u);
    EXPECT_EQ(errno, ENODEV);
    EXPECT_FALSE(is_open(again));
}
