// The FUSE threads' loop (fs/fuse_loop.hpp) on pipes: a readable fd is handed to one
// thread, once per arming; a removed fd's events reach nobody; an fd added before the
// threads start is served once they do.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>

#include "fs/fuse_loop.hpp"
#include "sys/fd.hpp"

using ecifs::fs::FuseLoop;
using ecifs::sys::Fd;
using namespace std::chrono_literals;

namespace {

struct Pipe {
    Fd read, write;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2");
        read.reset(fds[0]);
        write.reset(fds[1]);
    }
    void put() const { ASSERT_EQ(::write(write.get(), "x", 1), 1); }
    void take() const {
        char c;
        (void)::read(read.get(), &c, 1);
    }
};

bool eventually(const std::function<bool()>& condition) {
    for (int i = 0; i < 200; ++i) {
        if (condition()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return condition();
}

}  // namespace

TEST(FuseLoop, OneCallPerArmingUntilRearmed) {
    FuseLoop loop(2);
    loop.start();
    Pipe pipe;
    std::atomic<int> calls{0};
    uint64_t key = loop.add(pipe.read.get(), [&] { ++calls; });  // not drained: stays readable
    pipe.put();
    ASSERT_TRUE(eventually([&] { return calls == 1; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(calls, 1) << "a one-shot fd was handed out again before it was re-armed";
    loop.rearm(key, pipe.read.get());
    EXPECT_TRUE(eventually([&] { return calls == 2; }));
    loop.remove(key, pipe.read.get());
}

TEST(FuseLoop, ARemovedFdReachesNobody) {
    FuseLoop loop(2);
    loop.start();
    Pipe first, second;
    std::atomic<int> first_calls{0}, second_calls{0};
    const uint64_t first_key = loop.add(first.read.get(), [&] { ++first_calls; });
    loop.remove(first_key, first.read.get());
    first.put();
    // A new registration (the fd number may be reused by the next mount) has its own key.
    const uint64_t second_key = loop.add(second.read.get(), [&] {
        second.take();
        ++second_calls;
    });
    EXPECT_NE(first_key, second_key);
    second.put();
    ASSERT_TRUE(eventually([&] { return second_calls == 1; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(first_calls, 0);
    loop.remove(second_key, second.read.get());
}

TEST(FuseLoop, TwoReadableFdsAreServedAtOnce) {
    FuseLoop loop(2);
    loop.start();
    Pipe a, b;
    std::atomic<int> inside{0}, most{0};
    auto slow = [&] {
        const int now = ++inside;
        most = std::max(most.load(), now);
        std::this_thread::sleep_for(100ms);
        --inside;
    };
    const uint64_t ka = loop.add(a.read.get(), slow), kb = loop.add(b.read.get(), slow);
    a.put();
    b.put();
    EXPECT_TRUE(eventually([&] { return most == 2; })) << "one thread served both";
    loop.remove(ka, a.read.get());
    loop.remove(kb, b.read.get());
}

TEST(FuseLoop, AnFdAddedBeforeTheThreadsStartIsServedOnceTheyDo) {
    FuseLoop loop(1);
    Pipe pipe;
    std::atomic<int> calls{0};
    const uint64_t key = loop.add(pipe.read.get(), [&] { ++calls; });
    pipe.put();
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(calls, 0);
    loop.start();
    loop.start();  // once
    EXPECT_TRUE(eventually([&] { return calls == 1; }));
    EXPECT_EQ(loop.threads(), 1u);
    loop.remove(key, pipe.read.get());
}
