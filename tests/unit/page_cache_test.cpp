// The bookkeeping behind splice and sendfile of the views (fs/page_cache.hpp). The
// kernel's side is exercised by tests/integration/test_reading_mixes.py.
#include "fs/page_cache.hpp"

#include <gtest/gtest.h>

namespace ecifs::fs {
namespace {

constexpr fuse_ino_t ino = 7;

Content text(const char* s) { return std::make_shared<const std::string>(s); }

TEST(PageCache, AnOpenStoresOnlyWhatTheKernelSizeMayNotCover) {
    PageCache cache(true);
    auto first = cache.opened(ino, text("12345\n"), false);
    EXPECT_TRUE(first.extend);
    cache.extended(ino, 6, first.shrinks_seen, true);
    cache.released(ino, false);
    EXPECT_FALSE(cache.opened(ino, text("54321\n"), false).extend);  // i_size is 6 already
    cache.released(ino, false);
    EXPECT_TRUE(cache.opened(ino, text("1234567\n"), false).extend);
}

TEST(PageCache, AStoreThatFailedRaisesNothing) {
    PageCache cache(true);
    auto first = cache.opened(ino, text("12345\n"), false);
    cache.extended(ino, 6, first.shrinks_seen, false);
    cache.released(ino, false);
    EXPECT_TRUE(cache.opened(ino, text("12345\n"), false).extend);
}

TEST(PageCache, HandlesThatMayReadThePageCacheShareOneSnapshot) {
    PageCache cache(true);
    cache.opened(ino, text("first\n"), false);
    EXPECT_EQ(*cache.splice_read(ino), "first\n");
    // Another open while that handle may still splice: it reads the same text.
    cache.opened(ino, text("second, longer\n"), false);
    EXPECT_EQ(*cache.splice_read(ino), "first\n");
    cache.released(ino, false);
    cache.released(ino, false);
    cache.opened(ino, text("third\n"), false);
    EXPECT_EQ(*cache.splice_read(ino), "third\n");
}

TEST(PageCache, HandlesThatReadWithRead2DoNotHoldTheSnapshot) {
    PageCache cache(true);
    cache.opened(ino, text("first\n"), false);
    cache.settled(ino);  // its first READ was a read(2): top, vmstat keep such handles open
    cache.opened(ino, text("second\n"), false);
    EXPECT_EQ(*cache.splice_read(ino), "second\n");
}

TEST(PageCache, AttributesGoOutStaleWhileAnOpenHandleNeedsTheSize) {
    PageCache cache(true);
    auto opened = cache.opened(ino, text("12345\n"), false);
    EXPECT_TRUE(cache.keep_on_attributes(ino));  // the store is under way
    cache.extended(ino, 6, opened.shrinks_seen, true);
    EXPECT_TRUE(cache.keep_on_attributes(ino));
    cache.released(ino, false);
    EXPECT_FALSE(cache.keep_on_attributes(ino));  // applied: i_size becomes 0
    EXPECT_TRUE(cache.opened(ino, text("12345\n"), false).extend);
}

TEST(PageCache, AppliedAttributesCancelAStoreUnderWay) {
    PageCache cache(true);
    auto opened = cache.opened(ino, text("12345\n"), false);
    cache.sized(ino);  // a SETATTR reply, which the kernel takes whatever the version
    cache.extended(ino, 6, opened.shrinks_seen, true);
    cache.released(ino, false);
    EXPECT_TRUE(cache.opened(ino, text("12345\n"), false).extend);
}

TEST(PageCache, AShortPageCacheReadLowersTheBound) {
    PageCache cache(true);
    auto opened = cache.opened(ino, text("1234567\n"), false);
    cache.extended(ino, 8, opened.shrinks_seen, true);
    cache.short_read(ino, 3);
    cache.released(ino, false);
    EXPECT_TRUE(cache.opened(ino, text("12345\n"), false).extend);
}

TEST(PageCache, TruncatingOpensAndWriteOnlyOpens) {
    PageCache cache(true);
    auto opened = cache.opened(ino, text("12345\n"), false);
    cache.extended(ino, 6, opened.shrinks_seen, true);
    cache.released(ino, false);
    auto writer = cache.opened(ino, nullptr, true);  // echo 1 > file: O_WRONLY|O_TRUNC
    EXPECT_FALSE(writer.extend);
    EXPECT_FALSE(cache.splice_read(ino));  // the last reader's went with it; a writer renders none
    cache.released(ino, false);
    EXPECT_TRUE(cache.opened(ino, text("12345\n"), false).extend);  // i_size was set to 0
}

TEST(PageCache, UnmanagedBeforeLinux65) {
    PageCache cache(false);
    EXPECT_FALSE(cache.opened(ino, text("12345\n"), false).extend);
    EXPECT_FALSE(cache.keep_on_attributes(ino));
}

}  // namespace
}  // namespace ecifs::fs
