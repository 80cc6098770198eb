#include "sys/log_limit.hpp"

#include <gtest/gtest.h>

namespace ecifs::sys {
namespace {

using namespace std::chrono_literals;
using Clock = LogLimiter::Clock;

TEST(LogLimiter, ABurstPerWindowThenOneLineSaysWhatWasLeftOut) {
    LogLimiter limiter(3, 60s);
    const Clock::time_point t0{};
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.admit("c1|read", t0 + i * 1s).log);
    for (int i = 0; i < 100; ++i) EXPECT_FALSE(limiter.admit("c1|read", t0 + 10s).log);
    const auto next = limiter.admit("c1|read", t0 + 60s);  // a new window
    EXPECT_TRUE(next.log);
    EXPECT_EQ(next.left_out, 100u);
    EXPECT_EQ(limiter.admit("c1|read", t0 + 61s).left_out, 0u);
}

TEST(LogLimiter, KeysAreCountedApart) {
    LogLimiter limiter(1, 60s);
    const Clock::time_point t0{};
    EXPECT_TRUE(limiter.admit("flooder|read", t0).log);
    EXPECT_FALSE(limiter.admit("flooder|read", t0).log);
    EXPECT_TRUE(limiter.admit("neighbour|read", t0).log);  // another container still logs
    EXPECT_TRUE(limiter.admit("flooder|mount", t0).log);   // and so does another message
}

TEST(LogLimiter, RemembersAtMostMaxKeysForgettingTheLeastRecentlyUsed) {
    LogLimiter limiter(1, 60s, 2);
    const Clock::time_point t0{};
    EXPECT_TRUE(limiter.admit("a", t0).log);
    EXPECT_TRUE(limiter.admit("b", t0).log);
    EXPECT_FALSE(limiter.admit("a", t0).log);  // a is now the most recently used
    EXPECT_TRUE(limiter.admit("c", t0).log);   // b is forgotten
    EXPECT_FALSE(limiter.admit("a", t0).log);  // a is still remembered, and limited
    EXPECT_TRUE(limiter.admit("b", t0).log);   // b starts afresh
}

}  // namespace
}  // namespace ecifs::sys
